"""A newcomer's walk through every role in a real browser (issue 15): what stood in the way.

Each test walks one finding of the issue as a person would, on Debian's chromium (see
``tests/test_browser_story.py``), and fails on the code before the fix: the refused login
that showed nothing, the auditor's exports nobody could find, the evidence list that did
not come back after an upload, the login page without sign-up or language, the timeline's
noise, a sign-off without reasons, a paste cut at 5,000 characters, plain-text links, the
missing favicon, the officer refused on /portal/, and an oversized file sent whole before
being refused.

Every page a test passes is saved, in Chinese and in English, at a desktop and a phone
width, under ``test-artifacts/newcomer/``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections
from django.urls import reverse
from django.utils import translation

from cases import rules
from cases.models import Case, Material, Role
from notifications import delivery
from notifications.models import Message, Notification
from tests import factories, flow_helpers, helpers
from tests import test_browser_accessibility as a11y
from tests.test_browser_story import (  # noqa: F401 - fixtures
    PASSWORD,
    async_unsafe_allowed,
    expect,
    person,
)

# One chromium for the module (the accessibility module's), not one per walk.
browser = a11y.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "newcomer"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.django_db(transaction=True)


class Walk:
    """One person's browser, with a shot of a page in both languages and both widths."""

    def __init__(self, chromium, base_url: str, language: str = "en-US"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.context = chromium.new_context(
            base_url=base_url, locale=language, viewport=DESKTOP, accept_downloads=True
        )
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.not_found: list[str] = []
        self.page.on(
            "response", lambda r: self.not_found.append(r.url) if r.status == 404 else None
        )

    def sign_in(self, username: str, next_url: str, *, expect_url: str | None = None) -> None:
        self.page.goto(f"/accounts/login/?next={next_url}")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.press("input[name=password]", "Enter")
        # The path itself: the login page's own address ends with ?next=<the same path>.
        target = (expect_url or next_url).split("?")[0]
        self.page.wait_for_url(lambda url: urlsplit(url).path == target)

    def language(self, code: str) -> None:
        """Switch with the page's own language switch (the first one on the page)."""
        switch = self.page.locator(
            f"form.rd-lang-switch button[value={code}], form.lang-switch button[value={code}]"
        ).first
        with self.page.expect_navigation():
            switch.click()
        self.page.wait_for_load_state()
        expect(
            self.page.locator(
                f"form.rd-lang-switch button[value={code}], form.lang-switch button[value={code}]"
            ).first
        ).to_have_attribute("aria-pressed", "true")

    def shots(self, name: str) -> None:
        """The current page in both languages (each switch checked), photographed at a
        desktop and a phone width when screenshots are taken (not under CI=true)."""
        for code in ("zh-hans", "en"):
            self.language(code)
            if not a11y.SCREENSHOTS:
                continue
            for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
                self.page.set_viewport_size(size)
                a11y.screenshot(self.page, ARTIFACTS / f"{name}-{code}-{width}.png")
        self.page.set_viewport_size(DESKTOP)


@pytest.fixture
def walk(live_server, browser, async_unsafe_allowed):  # noqa: F811 - fixtures
    walks = []

    def start(language: str = "en-US") -> Walk:
        walks.append(Walk(browser, live_server.url, language))
        return walks[-1]

    yield start
    for one in walks:
        one.context.close()
    connections.close_all()


@pytest.fixture
def agency():
    return factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局", region_code="440300")


@pytest.fixture
def company():
    return factories.SubjectFactory(name="深圳市示例科技有限公司")


@pytest.fixture
def entity(company):
    return person(factories.representative(company, "acme"))


def filed_case(company, agency, entity) -> Case:
    """An objection to a record two platforms publish, filed by the entity."""
    platforms = [
        factories.PlatformFactory(code="creditchina", name="信用中国"),
        factories.PlatformFactory(code="gsxt", name="国家企业信用信息公示系统"),
    ]
    record = helpers.restorable_record(company, agency, platforms)
    return flow_helpers.file_objection(company, [record], entity)


# --- 1 and 4: the login page ------------------------------------------------------------------------


def test_a_refused_login_says_why_and_the_login_page_offers_sign_up_and_languages(walk, entity):
    me = walk()
    me.page.goto("/accounts/login/")
    expect(me.page.get_by_role("link", name="Sign up")).to_have_attribute(
        "href", reverse("portal:signup")
    )
    me.shots("login")

    me.language("en")
    answers = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        me.page.fill("input[name=username]", "acme")
        me.page.fill("input[name=password]", "a wrong guess")
        with me.page.expect_response(lambda r: r.request.method == "POST") as answer:
            me.page.click("button[type=submit]")
        answers.append(answer.value.status)
    assert answers[-1] == 429, answers

    refusal = me.page.locator("#login-refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Too many failed logins")
    expect(refusal).to_have_attribute("role", "alert")
    # The form is still there, with the username, for when the lockout ends.
    expect(me.page.locator("input[name=username]")).to_have_value("acme")
    a11y.screenshot(me.page, ARTIFACTS / "login-refused-en-desktop.png")

    me.language("zh-hans")
    me.page.fill("input[name=username]", "acme")
    me.page.fill("input[name=password]", PASSWORD)
    with me.page.expect_response(lambda r: r.request.method == "POST"):
        me.page.click("button[type=submit]")
    expect(me.page.locator("#login-refusal")).to_contain_text("登录失败次数过多")
    a11y.screenshot(me.page, ARTIFACTS / "login-refused-zh-hans-desktop.png")

    me.page.get_by_role("link", name="注册").click()
    me.page.wait_for_url("**/portal/signup/")


# --- 2 and 4: the auditor's exports; the workspace's language switch ---------------------------------


def test_the_auditor_finds_the_exports_in_the_workspace_and_switches_language_there(walk, agency):
    person(factories.officer(Role.AUDITOR, agency, username="auditor"))
    me = walk()
    me.sign_in("auditor", "/", expect_url="/workflow/cases/")
    me.page.get_by_role("link", name="Decisions export").click()
    me.page.wait_for_url("**/exports/")

    # The workspace's frame: its menu, the sign-out and the language switch.
    expect(me.page.get_by_role("heading", name="Decisions export")).to_be_visible()
    expect(me.page.locator("form[action='/accounts/logout/'] button")).to_have_count(1)
    expect(me.page.get_by_role("link", name="Cases")).to_have_count(1)
    me.shots("exports")
    expect(me.page.get_by_role("heading", name="Decisions export")).to_be_visible()

    me.page.get_by_role("link", name="Cases").click()
    me.page.wait_for_url("**/workflow/cases/")
    me.language("zh-hans")
    expect(me.page.get_by_role("link", name="案件").first).to_be_visible()
    me.shots("workspace-cases")


# --- 3 and 9: uploads ---------------------------------------------------------------------------------


def test_the_evidence_list_comes_back_after_an_upload_and_an_oversized_file_is_not_sent(
    walk, company, agency, entity, tmp_path, settings
):
    settings.REDRESS_UPLOAD_MAX_BYTES = 4096
    case = filed_case(company, agency, entity)
    before = case.evidence.count()
    small = tmp_path / "fine-receipt.pdf"
    small.write_bytes(helpers.pdf_bytes("receipt"))
    big = tmp_path / "whole-archive.pdf"
    big.write_bytes(helpers.pdf_bytes("archive") + b"%" * 8192)
    me = walk()
    case_url = reverse("portal:case", args=[case.pk])
    me.sign_in("acme", case_url)
    page = me.page
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    page.select_option("#upload-form select[name=material]", Material.OTHER)
    page.set_input_files("#id_files", [str(big)])
    page.click("#upload-submit")
    refused = page.locator("#upload-results li.refused")
    expect(refused).to_contain_text("larger than")
    assert posts == [] and case.evidence.count() == before  # refused before sending

    page.set_input_files("#id_files", [str(small)])
    page.click("#upload-submit")
    expect(page.locator("#upload-results li.ok")).to_contain_text("fine-receipt.pdf")
    page.locator("#upload-reload a").click()
    expect(page.locator(".evidence-list")).to_contain_text("fine-receipt.pdf")
    expect(page.locator("#upload-results li")).to_have_count(0)  # a page loaded anew
    me.shots("portal-case")


# --- 5: the timeline -----------------------------------------------------------------------------------


def test_the_timeline_has_one_row_per_notification_of_a_step_and_the_rule_set_once(
    walk, company, agency, entity, monkeypatch
):
    staff = {role: person(factories.officer(role, agency)) for role in (Role.INTAKE,)}
    case = filed_case(company, agency, entity)
    flow_helpers.accept(case, staff[Role.INTAKE])
    # The worker delivers: the mail to the applicant, the calls to the platforms.
    monkeypatch.setattr(delivery, "_send_webhook", lambda message: None)
    for message in Message.objects.filter(case=case):
        delivery.deliver(message.pk)
    sent = Message.objects.filter(case=case, status=Message.Status.SENT)
    assert sent.filter(channel=Message.Channel.WEBHOOK).count() == 2

    me = walk()
    me.sign_in(staff[Role.INTAKE].username, reverse("workspace:case", args=[case.pk]))
    rows = me.page.locator("#timeline tbody tr")
    expect(rows.first).to_be_visible()
    texts = rows.all_inner_texts()
    assert not any("Notification queued" in text for text in texts), texts
    delivered = [text for text in texts if "Notification delivered" in text]
    # One row per kind of message sent after a step: the platforms' two calls in one.
    assert len(delivered) == len({(m.channel, m.kind) for m in sent}), texts
    assert any(
        "to the platforms 信用中国, 国家企业信用信息公示系统" in text for text in delivered
    ), delivered
    # The rule set once, by the title a reader sees, not the audit trail's code.
    rule = case.events.filter(kind="accepted").get().rule_version
    with translation.override("en"):
        title = rules.rule_titles([rule])[rule]
    timeline = me.page.locator("#timeline").inner_text()
    assert rule and title != rule and timeline.count(title) == 1, (title, timeline)
    assert rule not in timeline
    me.shots("workspace-case")

    me = walk()
    me.sign_in("acme", reverse("portal:case", args=[case.pk]))
    expect(me.page.locator("ol.timeline li").first).to_be_visible()
    labels = me.page.locator("ol.timeline li").all_inner_texts()
    assert not any("Notification queued" in text for text in labels), labels
    assert sum("Notification delivered" in text for text in labels) == len(delivered), labels


# --- 6: the sign-off's reasons; the grounds' counter ---------------------------------------------------


def test_a_signer_cannot_decide_without_reasons(walk, company, agency, entity):
    staff = {
        role: person(factories.officer(role, agency))
        for role in (Role.INTAKE, Role.CASE_OFFICER, Role.SIGNER)
    }
    case = filed_case(company, agency, entity)
    flow_helpers.accept(case, staff[Role.INTAKE])
    flow_helpers.review(case, staff[Role.CASE_OFFICER])
    me = walk()
    me.sign_in(staff[Role.SIGNER].username, reverse("workspace:case", args=[case.pk]))
    me.page.locator("#tasks button", has_text="Claim").first.click()
    form = me.page.locator("#tasks form.rd-form")
    form.locator(f"input[name=decision][value={Case.Decision.APPROVED}]").check()
    form.locator("button[type=submit]").click()
    me.page.wait_for_load_state()

    expect(me.page.locator("#tasks")).to_contain_text("State the reasons, tied to the evidence.")
    case.refresh_from_db()
    assert case.decision == "" and not case.signatures.exists()
    me.shots("workspace-sign-off-refused")


def test_grounds_longer_than_fit_are_kept_whole_and_counted(walk, company, agency, entity):
    record = helpers.restorable_record(company, agency)
    me = walk()
    me.sign_in("acme", reverse("portal:file"))
    page = me.page
    page.check("#kind-restoration")
    page.check(f"#record-{record.pk}")
    grounds = page.locator("textarea[name=grounds]")
    grounds.fill("罚款已缴清。" * 834)  # 5,004 characters, as a paste
    assert len(grounds.input_value()) == 5004  # not cut at 5,000
    expect(page.locator("#id_grounds_counter")).to_contain_text("5004 of 5000")
    expect(page.locator("#id_grounds_over")).to_be_visible()

    page.click("#filing-submit")
    page.wait_for_load_state()
    expect(page.locator(".field-invalid")).to_contain_text("at most 5000 fit")
    assert len(page.locator("textarea[name=grounds]").input_value()) == 5004  # nothing lost
    assert not Case.objects.exists()
    grounds = page.locator("textarea[name=grounds]")
    grounds.fill("罚款已缴清。")
    expect(page.locator("#id_grounds_over")).to_be_hidden()
    me.shots("portal-file")


# --- 7: links, favicon, the officer on /portal/ --------------------------------------------------------


def test_links_in_notifications_are_links_and_no_page_lacks_its_icon(walk, company, agency, entity):
    case = filed_case(company, agency, entity)
    intake = person(factories.officer(Role.INTAKE, agency))
    flow_helpers.accept(case, intake)
    notification = Notification.objects.filter(user=entity, case=case).first()
    assert notification is not None and "http" in notification.body

    me = walk()
    me.sign_in("acme", reverse("portal:notifications"))
    link = me.page.locator("ul.notifications a[href^='http']").first
    expect(link).to_be_visible()
    assert f"/portal/cases/{case.pk}/" in link.get_attribute("href")
    me.shots("portal-notifications")
    # Every page names its icon, and /favicon.ico (which browsers ask for on pages that
    # name none, the admin's) answers with it.
    for address in ("/portal/notifications/", reverse("portal:case", args=[case.pk])):
        me.page.goto(address)
        icon = me.page.locator("link[rel=icon]").get_attribute("href")
        assert me.page.request.get(icon).ok, icon
    assert me.page.request.get("/favicon.ico").ok
    me.page.goto("/accounts/login/")
    icon = me.page.locator("link[rel=icon]").get_attribute("href")
    assert me.page.request.get(icon).ok, icon
    assert me.not_found == [], me.not_found


def test_an_officer_who_opens_the_portal_is_sent_to_the_workspace(walk, agency):
    person(factories.officer(Role.INTAKE, agency, username="intake"))
    me = walk()
    me.sign_in("intake", "/workflow/inbox/")
    answer = me.page.goto("/portal/")
    assert answer.ok and answer.url.endswith("/workflow/inbox/"), answer.url
    expect(me.page.locator("body")).not_to_contain_text("403")
