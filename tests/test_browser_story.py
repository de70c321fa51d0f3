"""A restoration walked through in a real browser, from filing to the downloaded letter.

Playwright drives Debian's chromium (``/usr/bin/chromium``; ``scripts/setup`` installs it
for the tests; Playwright never downloads a browser of its own here). An entity signs in,
files a restoration of a serious penalty and uploads two evidence files; the intake
officer accepts it, the case officer reviews each item and recommends approval, the legal
reviewer passes it, two signers sign, and the entity downloads the approval letter.

A full-page screenshot of every page step is saved under ``test-artifacts/browser/``
(not under ``CI=true``: ``test_browser_accessibility.SCREENSHOTS``).

Without Playwright or chromium the module is skipped; under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import datetime
import os
import struct
import zlib
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
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "browser tests need the playwright package: pip install playwright "
        "(not `playwright install`: the tests use Debian's chromium)",
        allow_module_level=True,
    )
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"browser tests need {CHROMIUM}: run scripts/setup (apt chromium)")
    pytest.skip(
        f"browser tests need Debian's chromium at {CHROMIUM}: run scripts/setup",
        allow_module_level=True,
    )

from django.db import connections  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import Case, Material  # noqa: E402
from documents.models import Letter  # noqa: E402
from documents.services import letters_render_pending  # noqa: E402
from tests import factories, helpers  # noqa: E402
from tests.test_browser_accessibility import screenshot  # noqa: E402

PASSWORD = "pw"


def png_bytes() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class Story:
    """The browser, and the numbered screenshots of every page the story passes."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.shots = 0
        self.context = None
        self.page = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def shot(self, name: str) -> None:
        self.shots += 1
        screenshot(self.page, ARTIFACTS / f"{self.shots:02d}-{name}.png")

    def sign_in(self, user, next_url: str) -> None:
        """A fresh browser session (as after signing out) signs in through the login page."""
        if self.context is not None:
            self.context.close()
        self.context = self.browser.new_context(
            base_url=self.base_url, locale="en-US", accept_downloads=True
        )
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        username = user.get_username()
        self.page.goto(f"/accounts/login/?next={next_url}")
        self.shot(f"login-{username}")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.press("input[name=password]", "Enter")
        self.page.wait_for_url(f"**{next_url}")

    def close(self) -> None:
        if self.context is not None:
            self.context.close()


def person(user):
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def async_unsafe_allowed(monkeypatch):
    """Playwright's sync API runs an event loop in this thread; the test still reads the
    database synchronously between page steps (as pytest-playwright users do)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.django_db(transaction=True)
def test_restoration_from_filing_to_downloaded_letter(
    live_server, browser, async_unsafe_allowed, tmp_path
):
    agency = factories.AgencyFactory(
        code="SZAMR", name="深圳市市场监督管理局", region_code="440300"
    )
    platform = factories.PlatformFactory(code="creditchina", name="信用中国")
    company = factories.SubjectFactory(name="深圳市示例科技有限公司")
    entity = person(factories.representative(company, "acme"))
    intake = person(factories.officer("intake", agency, username="intake"))
    case_officer = person(factories.officer("case_officer", agency, username="reviewer"))
    legal = person(factories.officer("legal_reviewer", agency, username="legal"))
    signers = [
        person(factories.officer("signer", agency, username=name))
        for name in ("signer-1", "signer-2")
    ]
    # A serious penalty, restorable today: legal review and two signers.
    record = helpers.serious_record(company, agency, [platform])

    commitment = tmp_path / "commitment-letter.pdf"
    commitment.write_bytes(helpers.pdf_bytes("commitment letter"))
    receipt = tmp_path / "fine-receipt.png"
    receipt.write_bytes(png_bytes())

    story = Story(browser, live_server.url)
    try:
        # --- the entity files the restoration and uploads its two files ------------------
        story.sign_in(entity, reverse("portal:file"))
        page = story.page
        page.check("#kind-restoration")
        page.check(f"#record-{record.pk}")
        page.fill("textarea[name=grounds]", "The fine was paid and the conduct corrected.")
        story.shot("file-form")
        page.click("#filing-submit")
        page.wait_for_url("**/portal/cases/*/")
        case = Case.objects.get(subject=company)
        assert case.kind == Case.Kind.RESTORATION
        expect(page.locator("h1, .heading").first).to_contain_text(case.reference)
        expect(page.locator("#needed-heading")).to_be_visible()
        story.shot("case-filed")

        # Each upload names what its files are: a commitment letter for the record, then
        # the proof that the fine was paid; the page's script posts each file on its own.
        uploads = [
            (Material.COMMITMENT_LETTER, str(record.pk), commitment),
            (Material.FULFILMENT_PROOF, "", receipt),
        ]
        for done, (material, record_choice, path) in enumerate(uploads, start=1):
            page.select_option("#upload-form select[name=material]", material)
            page.select_option("#upload-form select[name=record]", record_choice)
            page.set_input_files("#id_files", [str(path)])
            page.click("#upload-submit")
            expect(page.locator("#upload-results li.ok")).to_have_count(1)
            expect(page.locator("#upload-results li.ok")).to_contain_text(path.name)
            story.shot(f"uploaded-{done}")
        expect(page.locator("#upload-reload")).to_be_visible()
        page.locator("#upload-reload a").click()  # loads the page anew
        expect(page.locator(".evidence-list li")).to_have_count(2)
        expect(page.locator("#needed-heading")).to_have_count(0)
        story.shot("case-with-evidence")
        assert sorted(case.evidence.values_list("material", flat=True)) == sorted(
            [Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF]
        )

        officer_case = reverse("workspace:case", args=[case.pk])

        def claim_and_complete(officer, name: str, fill) -> None:
            story.sign_in(officer, officer_case)
            page = story.page
            story.shot(f"{name}-case")
            page.locator("#tasks button", has_text="Claim").first.click()
            form = page.locator("#tasks form.rd-form")
            expect(form).to_have_count(1)
            fill(page, form)
            story.shot(f"{name}-form")
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()
            story.shot(f"{name}-done")

        # --- the intake officer accepts ----------------------------------------------------
        def accept(page, form):
            form.locator("input[name=decision][value=accept]").check()
            form.locator("textarea[name=note]").fill("Materials complete.")

        claim_and_complete(intake, "accept", accept)
        expect(story.page.locator(".rd-facts")).to_contain_text("Accepted")
        case.refresh_from_db()
        assert case.status == Case.Status.UNDER_REVIEW, case.status

        # --- the case officer reviews each item and recommends approval -------------------
        def review(page, form):
            for item in case.evidence.all():
                form.locator(f"select[name=outcome_{item.pk}]").select_option("accepted")
                form.locator(f"input[name=reason_{item.pk}]").fill("Checked against the original.")
            form.locator("input[name=action][value=complete]").check()
            form.locator("select[name=recommendation]").select_option(Case.Decision.APPROVED)
            form.locator("textarea[name=note]").fill("Reviewed item by item.")

        claim_and_complete(case_officer, "review", review)
        expect(story.page.locator(".rd-facts")).to_contain_text("Legal review")
        case.refresh_from_db()
        assert case.status == Case.Status.LEGAL_REVIEW, case.status
        assert set(case.evidence.values_list("review_outcome", flat=True)) == {"accepted"}

        # --- the legal reviewer passes it to sign-off --------------------------------------
        def legal_pass(page, form):
            form.locator("input[name=decision][value=pass]").check()

        claim_and_complete(legal, "legal-review", legal_pass)

        # --- two signers approve -------------------------------------------------------------
        def sign(page, form):
            form.locator(f"input[name=decision][value={Case.Decision.APPROVED}]").check()
            form.locator("textarea[name=reasons]").fill("The fine was paid: see the receipt.")

        for signer in signers:
            claim_and_complete(signer, f"sign-{signer.username}", sign)
        case.refresh_from_db()
        assert case.decision == Case.Decision.APPROVED
        assert case.review_officer == case_officer
        assert case.legal_reviewer == legal
        assert {s.signer for s in case.signatures.all()} == set(signers)
        expect(story.page.locator(".rd-facts")).to_contain_text("Approved")

        # No worker runs in the tests: render the letters the decision asked for.
        later = timezone.now() + datetime.timedelta(minutes=2)
        letters_render_pending(now=later)

        # --- the entity downloads the decision letter ----------------------------------------
        story.sign_in(entity, reverse("portal:case", args=[case.pk]))
        page = story.page
        expect(page.locator(".status-line")).to_contain_text(case.get_status_display())
        expect(page.locator("dl.facts")).to_contain_text("Approved")
        story.shot("entity-case-decided")
        letter = Letter.objects.get(case=case, kind=Letter.Kind.APPROVAL)
        link = page.locator(f"#letters a[href$='/letters/{letter.pk}/']")
        expect(link).to_be_visible()
        with page.expect_download() as download_info:
            link.click()
        download = download_info.value
        content = Path(download.path()).read_bytes()
        assert content.startswith(b"%PDF")
        assert download.suggested_filename == letter.file_name
        assert content == letter.pdf.open("rb").read()
        page.locator("#letters").scroll_into_view_if_needed()
        story.shot("entity-letters")
    finally:
        story.close()
        # Playwright's sync API runs this test inside its own context, so the queries
        # above used a connection Django's teardown cannot see: close it here, or the
        # test database cannot be dropped at the end of the run.
        connections.close_all()
