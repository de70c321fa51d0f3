"""Every page, checked for WCAG 2.2 AA by axe-core in a real browser, and used by keyboard.

axe-core (shipped inside the ``axe-playwright-python`` package, the test extra) runs on
every page of the portal, the officers' and supervisors' workspace, the auditor's exports,
the public letter check, login, sign-up, the accessibility statement and the admin pages,
in Chinese and in English, at a desktop and at a phone width: a serious or critical
violation fails the test. A full-page screenshot of each is kept under
``test-artifacts/accessibility/`` (gitignored) for a person to look at, except under
``CI=true``, where nobody does (``REDRESS_SCREENSHOTS=1`` takes them there too).

Then an entity files a case and an intake officer completes a step with the keyboard only:
skip links, visible focus (an outline or a ring on every focused control), errors tied to
their fields and announced.

Playwright drives Debian's chromium as in ``test_browser_story.py``; one browser serves the
whole module.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "accessibility"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
LANGUAGES = ("zh-hans", "en")
# axe-core's impact levels that fail a page (WCAG 2.2 AA and best practices axe rates so).
FAILING = {"serious", "critical"}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# The screenshots assert nothing: they are for a person to look at, which nobody does in CI,
# and they took a fifth of each walk (13 of 70 s). Taken unless CI=true; REDRESS_SCREENSHOTS=1
# or 0 says otherwise.
SCREENSHOTS = os.environ.get(
    "REDRESS_SCREENSHOTS", "0" if os.environ.get("CI") == "true" else "1"
) not in ("", "0")

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "accessibility tests need playwright and axe-playwright-python (the test extra)",
        allow_module_level=True,
    )
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"browser tests need {CHROMIUM}: run scripts/setup (apt chromium)")
    pytest.skip(
        f"browser tests need Debian's chromium at {CHROMIUM}: run scripts/setup",
        allow_module_level=True,
    )

from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import CalendarOverride, Case, Role, RuleSet  # noqa: E402
from documents.models import Export, Letter  # noqa: E402
from documents.services import letters_render_pending  # noqa: E402
from tests import factories, flow_helpers, helpers  # noqa: E402

PASSWORD = "pw"


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """One chromium for the module, started once the test database exists. Playwright's
    sync API runs an event loop in this thread; the tests still read the database
    synchronously between page steps (as pytest-playwright users do)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def close_connections():
    """Playwright's sync API runs the test in its own context, so Django's teardown cannot
    see the connections the test used: close them, or the test database cannot be dropped."""
    yield
    connections.close_all()


def screenshot(page, path: Path) -> None:
    """A full-page screenshot of ``page`` at ``path`` (when SCREENSHOTS), else only what
    taking one waits for, so that what is checked next sees the same page: its web fonts
    loaded (Playwright waits for ``document.fonts.ready`` before a screenshot)."""
    if SCREENSHOTS:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.evaluate("document.fonts.ready.then(() => true)")


def person(user):
    user.set_password(PASSWORD)
    user.save()
    return user


class World:
    """An agency with a case at every kind of page: an entity's filed and accepted case
    with a letter, officers, a supervisor, an auditor with an export, an administrator."""

    def __init__(self):
        self.agency = factories.AgencyFactory(
            code="SZAMR", name="深圳市市场监督管理局", region_code="440300"
        )
        platform = factories.PlatformFactory(code="creditchina", name="信用中国")
        self.platform = platform
        # An agency's own closure, as the calendar's lists and forms show one.
        self.closure = CalendarOverride.objects.create(
            day=datetime.date(2099, 6, 1), agency=self.agency, is_working_day=False, name="闭馆日"
        )
        self.company = factories.SubjectFactory(name="深圳市示例科技有限公司")
        self.entity = person(factories.representative(self.company, "acme"))
        self.intake = person(factories.officer(Role.INTAKE, self.agency, username="intake"))
        self.case_officer = person(
            factories.officer(Role.CASE_OFFICER, self.agency, username="reviewer")
        )
        self.supervisor = person(
            factories.officer(Role.SUPERVISOR, self.agency, username="supervisor")
        )
        self.auditor = person(factories.officer(Role.AUDITOR, self.agency, username="auditor"))
        self.admin = person(
            factories.UserFactory(username="admin", is_staff=True, is_superuser=True)
        )
        self.record = helpers.serious_record(self.company, self.agency, [platform])
        second = helpers.serious_record(self.company, self.agency, [platform])
        self.accepted = flow_helpers.accept(
            flow_helpers.file_restoration(self.company, [self.record], self.entity), self.intake
        )
        # A second case waits at the acceptance check: the intake officer's task form.
        self.waiting = flow_helpers.file_restoration(self.company, [second], self.entity)
        letters_render_pending(now=timezone.now() + datetime.timedelta(minutes=2))
        self.letter = Letter.objects.filter(case=self.accepted).first()
        today = timezone.localdate()
        self.export = Export.objects.create(
            agency=self.agency,
            date_from=today - datetime.timedelta(days=30),
            date_to=today,
            requested_by=self.auditor,
        )


def pages(world: World) -> list[tuple[str, object, str]]:
    """(name, who is signed in or None, address) of every page a person reaches."""
    accepted, waiting = world.accepted.pk, world.waiting.pk
    agency, rule_set = world.agency.pk, RuleSet.objects.order_by("pk").first().pk
    ws = "workspace:"
    anonymous = [
        ("login", None, reverse("login")),
        ("signup", None, reverse("portal:signup")),
        ("accessibility", None, reverse("portal:accessibility")),
        ("verify-letter", None, reverse("letter_verify", args=[world.letter.verification_code])),
        ("verify-unknown", None, reverse("letter_verify", args=["AAAAABBBBB"])),
        ("not-found", None, "/portal/no-such-page/"),
    ]
    entity = [
        ("portal-index", world.entity, reverse("portal:index")),
        ("portal-records", world.entity, reverse("portal:records")),
        ("portal-file", world.entity, reverse("portal:file")),
        ("portal-cases", world.entity, reverse("portal:cases")),
        ("portal-case-accepted", world.entity, reverse("portal:case", args=[accepted])),
        ("portal-case-waiting", world.entity, reverse("portal:case", args=[waiting])),
        ("portal-withdraw", world.entity, reverse("portal:withdraw", args=[waiting])),
        ("portal-organisation", world.entity, reverse("portal:organisation")),
        ("portal-link", world.entity, reverse("portal:link_request")),
        ("portal-notifications", world.entity, reverse("portal:notifications")),
        ("portal-api-tokens", world.entity, reverse("portal:api_tokens")),
    ]
    officer = [
        ("workspace-index", world.intake, reverse(ws + "index")),
        ("workspace-inbox", world.intake, reverse(ws + "inbox")),
        ("workspace-queue", world.intake, reverse(ws + "queue")),
        ("workspace-archive", world.intake, reverse(ws + "archive")),
        ("workspace-ties", world.intake, reverse(ws + "ties")),
        ("workspace-cases", world.intake, reverse(ws + "cases")),
        ("workspace-case-waiting", world.intake, reverse(ws + "case", args=[waiting])),
        ("workspace-case-accepted", world.case_officer, reverse(ws + "case", args=[accepted])),
        ("workspace-api-tokens", world.intake, reverse(ws + "api_tokens")),
        ("supervisor-tasks", world.supervisor, reverse(ws + "agency_tasks")),
        ("supervisor-problems", world.supervisor, reverse(ws + "agency_problems")),
        ("supervisor-metrics", world.supervisor, reverse(ws + "metrics")),
        ("supervisor-forecast", world.supervisor, reverse(ws + "agency_forecast")),
        ("supervisor-balancing", world.supervisor, reverse(ws + "balancing")),
        (
            "supervisor-team-member",
            world.supervisor,
            reverse(ws + "team_member", args=[world.intake.pk]),
        ),
        ("workspace-absences", world.intake, reverse(ws + "absences")),
        ("exports", world.auditor, reverse("exports:list")),
        ("export", world.auditor, reverse("exports:detail", args=[world.export.pk])),
    ]
    admin = [
        ("admin-index", world.admin, reverse("admin:index")),
        ("admin-cases", world.admin, reverse("admin:cases_case_changelist")),
        ("admin-case", world.admin, reverse("admin:cases_case_change", args=[accepted])),
        ("admin-users", world.admin, reverse("admin:auth_user_changelist")),
        ("admin-ruleset-add", world.admin, reverse("admin:cases_ruleset_add")),
        # What officers keep in the admin: agencies, platforms, rule sets, the calendar, users.
        ("admin-agencies", world.admin, reverse("admin:cases_agency_changelist")),
        ("admin-agency", world.admin, reverse("admin:cases_agency_change", args=[agency])),
        ("admin-platforms", world.admin, reverse("admin:cases_platform_changelist")),
        (
            "admin-platform",
            world.admin,
            reverse("admin:cases_platform_change", args=[world.platform.pk]),
        ),
        ("admin-rulesets", world.admin, reverse("admin:cases_ruleset_changelist")),
        ("admin-ruleset", world.admin, reverse("admin:cases_ruleset_change", args=[rule_set])),
        ("admin-calendar", world.admin, reverse("admin:cases_calendaroverride_changelist")),
        (
            "admin-calendar-day",
            world.admin,
            reverse("admin:cases_calendaroverride_change", args=[world.closure.pk]),
        ),
        ("admin-calendar-years", world.admin, reverse("admin:cases_calendaryear_changelist")),
        ("admin-user", world.admin, reverse("admin:auth_user_change", args=[world.intake.pk])),
    ]
    return anonymous + entity + officer + admin


class Browser:
    """A browser context per person and language, signed in without the login form (the
    keyboard test signs in through it)."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.axe = Axe()

    def context(self, user, language: str, viewport=DESKTOP, *, axe: bool = True):
        """A context for ``user`` (None: anonymous) in ``language``. With ``axe``, axe-core
        is loaded into every page as it opens (sent to the browser once per context, not
        600 kB over Playwright's pipe for every page checked: 6.6 of a walk's 70 s)."""
        context = self.browser.new_context(
            base_url=self.base_url,
            locale="zh-CN" if language == "zh-hans" else "en-US",
            viewport=viewport,
        )
        context.set_default_timeout(10_000)
        if axe:
            context.add_init_script(script=self.axe.axe_script)
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language}]
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            cookies.append({"name": settings.SESSION_COOKIE_NAME, "value": session})
        context.add_cookies([{**c, "url": self.base_url} for c in cookies])
        return context

    def violations(self, page) -> list[str]:
        """axe-core's serious and critical violations on the page, one line per node.

        Only the violations are reported in full (``resultTypes``): axe still runs every
        rule, but does not build selectors for every node that passed, the slowest part
        of a run on a long page."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe.axe_script)  # a context made without it
        results = page.evaluate(
            "options => axe.run(options)",
            {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
        )
        return [
            f"{rule['id']} ({rule['impact']}): {node['target']} {node['failureSummary']}"
            for rule in results["violations"]
            if rule["impact"] in FAILING
            for node in rule["nodes"]
        ]


@pytest.mark.parametrize(
    "language,width",
    [("zh-hans", "desktop"), ("en", "desktop"), ("zh-hans", "phone"), ("en", "phone")],
)
@pytest.mark.django_db(transaction=True)
def test_every_page_has_no_serious_accessibility_violation(
    live_server, browser, close_connections, language, width
):
    world = World()
    tool = Browser(browser, live_server.url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    viewport = DESKTOP if width == "desktop" else PHONE
    # axe at the phone width in Chinese only (the default language): the rules that depend
    # on the width do not depend on the language. Every page is photographed all four ways
    # (test-artifacts/accessibility/NAME-LANGUAGE-WIDTH.png, 1280 and 375 CSS pixels), and at
    # the phone width no page scrolls sideways as a whole, the admin's officers use included
    # (WCAG 1.4.10; the 320-pixel walk is below): a wide table scrolls in its own box.
    check = not (width == "phone" and language != "zh-hans")
    wider: dict[str, dict] = {}

    by_person: dict[object, list[tuple[str, str]]] = {}
    for name, user, url in pages(world):
        by_person.setdefault(user, []).append((name, url))
    found: dict[str, list[str]] = {}
    for user, visits in by_person.items():
        context = tool.context(user, language, viewport, axe=check)
        page = context.new_page()
        try:
            for name, url in visits:
                page.goto(url)
                screenshot(page, ARTIFACTS / f"{name}-{language}-{viewport['width']}.png")
                if check and (problems := tool.violations(page)):
                    found[f"{name} {url}"] = problems
                if width == "phone":
                    measured = page.evaluate(TOO_WIDE)
                    if measured["scroll"] > measured["inner"]:
                        wider[f"{name} {url}"] = measured
        finally:
            context.close()
    report = "\n".join(f"{where}:\n  " + "\n  ".join(problems) for where, problems in found.items())
    (ARTIFACTS / f"violations-{language}-{width}.txt").write_text(
        report or "none\n", encoding="utf-8"
    )
    assert not found, report
    assert not wider, "\n".join(f"{where}: {m}" for where, m in wider.items())


# --- by keyboard only ---------------------------------------------------------------------

FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const ring = style.boxShadow && style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  return {outline: outline, ring: !!ring, visible: box.width > 0 && box.height > 0,
          tag: el.tagName, id: el.id, name: el.getAttribute("name") || "",
          value: el.value || "", text: (el.textContent || "").trim().slice(0, 60)};
}"""


def focused(page) -> dict:
    """What has the keyboard focus, and whether it shows (an outline of 2px or more, or a
    ring), as WCAG 2.4.7 and 2.4.13 ask."""
    state = page.evaluate(FOCUS_SHOWN)
    assert state is not None, "the focus was lost to the page itself"
    assert state["visible"], f"the focused element is not on screen: {state}"
    assert state["outline"] or state["ring"], f"no visible focus on {state}"
    return state


def tab_to(page, matches, limit: int = 80) -> dict:
    """Press Tab until the focused element ``matches``, checking the focus shows each time."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focused(page)
        if matches(state):
            return state
    raise AssertionError(f"Tab never reached the element; last focus: {state}")


def skip_to_main(page) -> None:
    """The first Tab shows the skip link; Enter moves the focus to the page's main content."""
    page.keyboard.press("Tab")
    state = focused(page)
    assert state["tag"] == "A" and page.evaluate("document.activeElement.hash") == "#main", state
    box = page.evaluate("JSON.stringify(document.activeElement.getBoundingClientRect())")
    assert '"top":-' not in box, f"the skip link stays off screen when focused: {box}"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


@pytest.mark.django_db(transaction=True)
def test_an_entity_files_and_an_officer_accepts_with_the_keyboard_only(
    live_server, browser, close_connections
):
    agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
    platform = factories.PlatformFactory(code="creditchina", name="信用中国")
    company = factories.SubjectFactory(name="深圳市示例科技有限公司")
    entity = person(factories.representative(company, "acme"))
    intake = person(factories.officer(Role.INTAKE, agency, username="intake"))
    record = helpers.serious_record(company, agency, [platform])
    tool = Browser(browser, live_server.url)

    # --- the entity files a restoration, first forgetting the record and the grounds -------
    context = tool.context(entity, "en", axe=False)
    page = context.new_page()
    try:
        page.goto(reverse("portal:file"))
        skip_to_main(page)
        tab_to(page, lambda s: s["name"] == "kind")
        for _ in range(4):
            if page.evaluate("document.activeElement.id") == "kind-restoration":
                break
            page.keyboard.press("ArrowDown")
        focused(page)
        page.keyboard.press("Space")
        expect(page.locator("#kind-restoration")).to_be_checked()
        tab_to(page, lambda s: s["id"] == "filing-submit")
        page.keyboard.press("Enter")
        page.wait_for_load_state()

        # The errors are announced (role=alert) and tied to the fields they are about.
        expect(page.locator("[role=alert]").first).to_be_visible()
        checkbox = page.locator(f"#record-{record.pk}")
        expect(checkbox).to_have_attribute("aria-invalid", "true")
        assert "records-errors" in checkbox.get_attribute("aria-describedby").split()
        expect(page.locator("#records-errors")).to_have_attribute("role", "alert")
        grounds = page.locator("textarea[name=grounds]")
        expect(grounds).to_have_attribute("aria-invalid", "true")
        described = grounds.get_attribute("aria-describedby").split()
        # Among what describes the box (help, error, the length counter), its error.
        [error_id] = [d for d in described if d.endswith("_error")]
        errors = page.locator(f"#{error_id}")
        expect(errors).to_be_visible()
        assert errors.inner_text().strip()

        # Nothing chosen before is lost; the record and the grounds, by keyboard.
        expect(page.locator("#kind-restoration")).to_be_checked()
        tab_to(page, lambda s: s["id"] == f"record-{record.pk}")
        page.keyboard.press("Space")
        expect(checkbox).to_be_checked()
        tab_to(page, lambda s: s["name"] == "grounds")
        page.keyboard.type("The fine was paid and the conduct corrected.")
        tab_to(page, lambda s: s["id"] == "filing-submit")
        page.keyboard.press("Enter")
        # (the address keeps the skip link's #main across the redirect)
        page.wait_for_url(re.compile(r"/portal/cases/\d+/"))
        case = Case.objects.get(subject=company)
        assert case.kind == Case.Kind.RESTORATION
        assert case.grounds == "The fine was paid and the conduct corrected."
        # The confirmation is announced as a status message.
        expect(
            page.locator(".messages [role=status], .messages [role=alert]").first
        ).to_be_visible()
    finally:
        context.close()

    # The materials arrive as in the story test (a file chooser is the system's own dialog,
    # outside the page); the upload form's labels and live results are checked by axe.
    flow_helpers.add_restoration_materials(case, entity)

    # --- the intake officer claims the acceptance check and accepts, by keyboard -----------
    context = tool.context(intake, "en", axe=False)
    page = context.new_page()
    try:
        page.goto(reverse("workspace:case", args=[case.pk]))
        skip_to_main(page)
        tab_to(page, lambda s: s["tag"] == "BUTTON" and s["text"] == "Claim")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.locator("#tasks form.rd-form")).to_have_count(1)
        skip_to_main(page)
        tab_to(page, lambda s: s["name"] == "decision")
        for _ in range(4):
            if page.evaluate("document.activeElement.value") == "accept":
                break
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Space")
        expect(page.locator("input[name=decision][value=accept]")).to_be_checked()
        tab_to(page, lambda s: s["name"] == "note")
        page.keyboard.type("Materials complete.")
        tab_to(page, lambda s: s["tag"] == "BUTTON" and s["text"].startswith("Complete"))
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.locator(".rd-facts")).to_contain_text("Accepted")
        case.refresh_from_db()
        assert case.status == Case.Status.UNDER_REVIEW, case.status
    finally:
        context.close()


# --- reflow (WCAG 1.4.10) -------------------------------------------------------------------

# What is wider than the window: the outermost elements whose right edge passes it, so that
# a failure names the culprit rather than every one of its descendants.
TOO_WIDE = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let inside = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) { inside = true; break; }
    }
    if (inside) continue;
    const parent = el.parentElement.getBoundingClientRect();
    if (el.parentElement !== document.body && parent.right > width + 1) continue;
    wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}` +
              `${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""}` +
              ` right=${Math.round(box.right)}`);
  }
  if (!wide.length && document.documentElement.scrollWidth > width) {
    // No box passes the edge: some element's content spills out of it (a line that cannot
    // wrap); name the innermost such element.
    for (const el of document.body.querySelectorAll("*")) {
      const style = getComputedStyle(el);
      if (style.overflowX !== "visible" || el.closest(".rd-table-scroll")) continue;
      const box = el.getBoundingClientRect();
      if (box.left + el.scrollWidth <= width + 1) continue;
      if ([...el.children].some(c => c.getBoundingClientRect().left + c.scrollWidth > width + 1)) continue;
      wide.push(`${el.tagName.toLowerCase()}.${String(el.className).trim().split(/\\s+/).join(".")} spills to ${Math.round(box.left + el.scrollWidth)}: ${el.textContent.trim().slice(0, 40)}`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: width, wide: wide.slice(0, 6)};
}"""


@pytest.mark.parametrize("language,width", [("zh-hans", 320)])
@pytest.mark.django_db(transaction=True)
def test_no_page_scrolls_sideways_at_a_phone_width(
    live_server, browser, close_connections, language, width
):
    """At 320 CSS pixels (WCAG 1.4.10's width) no page of the portal, the workspace, the
    exports or login scrolls sideways as a whole; a wide table scrolls inside its own
    focusable, labelled region instead. The admin is Django's own and left out. (At 375,
    in both languages, the axe walk above checks the same while it photographs.)"""
    world = World()
    tool = Browser(browser, live_server.url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    by_person: dict[object, list[tuple[str, str]]] = {}
    for name, user, url in pages(world):
        if not name.startswith("admin"):
            by_person.setdefault(user, []).append((name, url))
    wider: dict[str, dict] = {}
    for user, visits in by_person.items():
        context = tool.context(user, language, {"width": width, "height": 740}, axe=False)
        page = context.new_page()
        try:
            for name, url in visits:
                page.goto(url)
                measured = page.evaluate(TOO_WIDE)
                screenshot(page, ARTIFACTS / f"reflow-{name}-{language}-{width}.png")
                if measured["scroll"] > measured["inner"]:
                    wider[f"{name} {url}"] = measured
        finally:
            context.close()
    assert not wider, "\n".join(f"{where}: {m}" for where, m in wider.items())
