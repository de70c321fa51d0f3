"""Hardening, as an attacker and an operator meet it.

Guessing passwords locks the username at that address out (login page and API token
alike) for a while; a form posted from another site is refused (CSRF); pages carry a
Content Security Policy that the officers' pages (viewflow's frontend), the portal and
the API docs live with in a real browser; and the production settings pass
``check --deploy``.
"""

from __future__ import annotations

import datetime
import html.parser
import mimetypes
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case, Role
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from tests.production import production_env

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def case(company, agency, platforms, applicant):
    """A restoration at its acceptance check, with its materials."""
    return flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    from django.core.files.storage import storages

    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


# --- login throttling and lockout ----------------------------------------------------------------


def log_in(client, username, password, address="10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def ask_token(username, password, address="10.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def test_five_wrong_passwords_lock_the_login_page_for_that_username_and_address(staff):
    client = Client()
    attempts = [log_in(client, "intake-szamr", "guess").status_code for _ in range(5)]

    assert attempts[:4] == [200, 200, 200, 200]  # the form again, with an error
    assert attempts[4] == 429
    locked = log_in(client, "intake-szamr", "pw")
    assert locked.status_code == 429  # even the right password, now
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The same person elsewhere, and another person here, are not locked out.
    assert log_in(Client(), "intake-szamr", "pw", address="10.0.0.2").status_code == 302
    assert log_in(Client(), "case_officer-szamr", "pw").status_code == 302


def test_five_wrong_passwords_lock_the_api_token_too(applicant):
    codes = [ask_token("acme", "guess").status_code for _ in range(5)]
    assert codes == [400, 400, 400, 400, 429]

    locked = ask_token("acme", "pw")

    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert "30 minutes" in locked.json()["message"]
    assert "token" not in locked.json()
    assert ask_token("acme", "pw", address="10.0.0.9").status_code == 200


def test_failures_on_the_login_page_and_the_api_count_together(applicant):
    for _ in range(3):
        log_in(Client(), "acme", "guess")
    ask_token("acme", "guess")
    assert ask_token("acme", "guess").status_code == 429
    assert log_in(Client(), "acme", "pw").status_code == 429


def test_the_lockout_ends_after_thirty_minutes(applicant):
    for _ in range(5):
        ask_token("acme", "guess")
    assert ask_token("acme", "pw").status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=31))

    assert ask_token("acme", "pw").status_code == 200


def test_a_successful_login_resets_the_count(applicant):
    for _ in range(4):
        ask_token("acme", "guess")
    assert ask_token("acme", "pw").status_code == 200
    for _ in range(4):
        ask_token("acme", "guess")
    assert ask_token("acme", "pw").status_code == 200


def test_the_limit_is_read_at_each_attempt(applicant, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert [ask_token("acme", "guess").status_code for _ in range(2)] == [400, 429]


def test_a_forwarded_for_header_does_not_dodge_the_lockout(applicant):
    """Without a trusted proxy configured, the client cannot choose its own address."""
    for n in range(5):
        APIClient().post(
            "/api/v1/auth/token/",
            {"username": "acme", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "acme", "password": "pw"},
        format="json",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(applicant, settings):
    settings.REDRESS_TRUSTED_PROXY_COUNT = 1

    def attempt(forwarded, password="guess"):  # noqa: S107 - a wrong guess
        return APIClient().post(
            "/api/v1/auth/token/",
            {"username": "acme", "password": password},
            format="json",
            HTTP_X_FORWARDED_FOR=forwarded,
            REMOTE_ADDR="10.0.0.254",  # the proxy
        )

    for _ in range(5):
        attempt("spoofed, 198.51.100.7")
    assert attempt("anything, 198.51.100.7", "pw").status_code == 429
    assert attempt("198.51.100.8", "pw").status_code == 200


def _settings_in_subprocess(env: dict, expression: str, module="config.settings") -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr({expression}))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and settings
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.engine_independent
def test_the_limit_and_the_lockout_time_are_configured_by_the_environment(tmp_path):
    shown = _settings_in_subprocess(
        {
            "REDRESS_VAR_DIR": str(tmp_path),
            "REDRESS_LOGIN_FAILURE_LIMIT": "3",
            "REDRESS_LOGIN_LOCKOUT_MINUTES": "90",
        },
        "(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds(), "
        "settings.AXES_LOCKOUT_PARAMETERS, settings.AUTHENTICATION_BACKENDS[0], "
        "[m for m in settings.MIDDLEWARE if not m.startswith('viewflow.')][-1])",
    )
    assert shown == repr(
        (
            3,
            5400.0,
            [["username", "ip_address"]],
            "axes.backends.AxesStandaloneBackend",
            "axes.middleware.AxesMiddleware",
        )
    )


# --- CSRF ---------------------------------------------------------------------------------------


def csrf_browser(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def test_officers_forms_posted_without_the_csrf_token_are_refused(case, staff, agency):
    deadline = case.deadlines.get()
    task = flow.open_task(case, "acceptance_check")
    supervisor = csrf_browser(staff["supervisor"])
    intake = csrf_browser(staff["intake"])
    posts = [
        (intake, f"/workflow/tasks/{task.pk}/claim/", {}),
        (intake, f"/workflow/tasks/{task.pk}/complete/", {"decision": "accept"}),
        (intake, f"/workflow/tasks/{task.pk}/release/", {}),
        (supervisor, f"/workflow/tasks/{task.pk}/assign/", {"assignee": staff["intake"].pk}),
        (supervisor, "/workflow/agency/assign/", {"tasks": [task.pk], "assignee": 1}),
        (
            supervisor,
            f"/workflow/cases/{case.pk}/deadlines/{deadline.pk}/extend/",
            {"days": 5, "reason": "Complex case."},
        ),
        (intake, "/notifications/", {}),
    ]
    for browser, address, data in posts:
        response = browser.post(address, data)
        assert response.status_code == 403, address
        assert b"CSRF" in response.content, address
    assert flow.open_steps(case) == ["acceptance_check"]  # nobody claimed or assigned it
    deadline.refresh_from_db()
    assert deadline.extended_days == 0


def test_the_portals_forms_posted_without_the_csrf_token_are_refused(case, applicant):
    browser = csrf_browser(applicant)
    for address in (
        f"/portal/cases/{case.pk}/withdraw/",
        f"/portal/cases/{case.pk}/materials-supplied/",
        f"/portal/cases/{case.pk}/evidence/",
        "/portal/file/",
        "/portal/link/",
    ):
        assert browser.post(address, {"reason": "x"}).status_code == 403, address
    assert flow.refresh(case).status == Case.Status.SUBMITTED


def test_the_login_form_posted_without_the_csrf_token_is_refused(staff):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "intake-szamr", "password": "pw"}
    )
    assert response.status_code == 403


def test_with_the_token_from_the_page_the_same_claim_goes_through(case, staff):
    browser = csrf_browser(staff["intake"])
    page = browser.get(f"/workflow/cases/{case.pk}/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1)
    task = flow.open_task(case, "acceptance_check")

    response = browser.post(
        f"/workflow/tasks/{task.pk}/claim/", {"csrfmiddlewaretoken": token.decode()}
    )

    assert response.status_code == 302
    assert flow.open_steps(case) == ["acceptance_check@intake-szamr"]


class _Forms(html.parser.HTMLParser):
    """Every form of a page: its method and whether it carries the CSRF token."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"method": (attrs.get("method") or "get").lower(), "action": attrs.get("action")}
            )
        elif tag == "input" and attrs.get("name") == "csrfmiddlewaretoken" and self.forms:
            self.forms[-1]["csrf"] = True


def post_forms(content: bytes) -> list[dict]:
    parser = _Forms()
    parser.feed(content.decode())
    return [form for form in parser.forms if form["method"] == "post"]


def test_every_post_form_on_the_officers_and_the_portals_pages_carries_the_token(
    case, staff, applicant, client
):
    flow.claim(case, "acceptance_check", staff["intake"])
    pages = [
        (staff["intake"], f"/workflow/cases/{case.pk}/"),  # the task's decision form
        (staff["supervisor"], f"/workflow/cases/{case.pk}/"),  # assign, extend
        (staff["supervisor"], "/workflow/agency/"),
        (staff["intake"], "/workflow/inbox/"),
        (applicant, f"/portal/cases/{case.pk}/"),
        (applicant, "/portal/"),
        (applicant, "/portal/file/"),
        (None, "/accounts/login/"),
    ]
    seen = 0
    for user, address in pages:
        browser = Client()
        if user is not None:
            browser.force_login(user)
        response = browser.get(address)
        assert response.status_code == 200, address
        for form in post_forms(response.content):
            seen += 1
            assert form.get("csrf"), (address, form)
    assert seen >= 6


# --- Content Security Policy --------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_pages_carry_a_policy_that_allows_only_our_own_scripts(client, staff, case):
    client.force_login(staff["intake"])
    for address in ("/workflow/inbox/", f"/workflow/cases/{case.pk}/", "/accounts/login/"):
        directives = policy(client.get(address))
        assert directives["script-src"][0] == "'self'", address
        assert "'unsafe-inline'" not in directives["script-src"]
        assert "'unsafe-eval'" not in directives["script-src"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["base-uri"] == ["'self'"]
        assert directives["default-src"] == ["'self'"]


def test_evidence_keeps_its_own_sandbox_policy(client, staff, case):
    client.force_login(staff["intake"])
    item = case.evidence.first()
    response = client.get(f"/workflow/evidence/{item.pk}/preview/")
    assert response["Content-Security-Policy"].startswith("sandbox")


class _Scripts(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.inline: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        executable = attrs.get("type") in (None, "", "text/javascript", "module")
        if tag == "script" and not attrs.get("src") and executable:
            self.inline.append(attrs)


def test_no_page_has_an_inline_script_the_policy_would_block(client, staff, applicant, case):
    """An inline script runs only with the request's nonce (none of ours needs one)."""
    pages = [
        (staff["intake"], "/workflow/inbox/"),
        (staff["intake"], "/workflow/queue/"),
        (staff["intake"], "/workflow/cases/"),
        (staff["intake"], f"/workflow/cases/{case.pk}/"),
        (staff["supervisor"], "/workflow/agency/"),
        (applicant, "/portal/"),
        (applicant, "/portal/records/"),
        (applicant, f"/portal/cases/{case.pk}/"),
        (applicant, "/portal/file/"),
        (None, "/accounts/login/"),
        (None, "/api/docs/"),
    ]
    for user, address in pages:
        browser = Client()
        if user is not None:
            browser.force_login(user)
        response = browser.get(address)
        assert response.status_code == 200, address
        parser = _Scripts()
        parser.feed(response.content.decode())
        nonces = [f"'nonce-{s.get('nonce')}'" for s in parser.inline]
        allowed = policy(response)["script-src"]
        assert all(nonce in allowed for nonce in nonces), (address, parser.inline)


class _Recorded(BaseHTTPRequestHandler):
    """Serves pages rendered beforehand by Django, and static files from the finders."""

    pages: dict[str, tuple[int, dict, bytes]] = {}
    reports: list[bytes] = []
    missing: list[str] = []

    def do_GET(self):
        path = self.path
        if path in self.pages:
            status, headers, body = self.pages[path]
        elif path.startswith(settings.STATIC_URL):
            found = finders.find(path[len(settings.STATIC_URL) :].split("?")[0])
            if not found:
                self.missing.append(path)
                status, headers, body = 404, {}, b""
            else:
                kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
                status, headers, body = 200, {"Content-Type": kind}, Path(found).read_bytes()
        else:
            self.missing.append(path)
            status, headers, body = 404, {}, b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.reports.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _record(browser: Client, address: str) -> tuple[int, dict, bytes]:
    response = browser.get(address)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = {
        name: value
        for name, value in response.items()
        if name.lower() in {"content-type", "content-security-policy", "location"}
    }
    return response.status_code, headers, body


BROWSED = [
    "/workflow/inbox/",
    "/workflow/cases/{case}/",
    "/workflow/agency/",
    "/portal/cases/{case}/",
    "/portal/file/",
    "/accounts/login/",
    "/api/docs/",
]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (scripts/setup test installs it)")
def test_the_officers_pages_run_in_a_real_browser_without_a_csp_violation(
    staff, applicant, case, settings
):
    """Headless Chromium loads each page with its real policy: the console must not show
    a single violation, and no violation report may arrive."""
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**directives, "report-uri": ["/csp-report/"]}
    }
    flow.claim(case, "acceptance_check", staff["intake"])
    pages = {
        staff["intake"]: ["/workflow/inbox/", "/workflow/queue/", f"/workflow/cases/{case.pk}/"],
        staff["supervisor"]: ["/workflow/agency/", "/workflow/cases/"],
        applicant: [f"/portal/cases/{case.pk}/", "/portal/file/"],
        None: ["/accounts/login/", "/api/docs/", "/api/docs/?script=", "/api/schema/"],
    }
    recorded = {}
    for user, addresses in pages.items():
        browser = Client()
        if user is not None:
            browser.force_login(user)
        for address in addresses:
            recorded[address] = _record(browser, address)
            assert recorded[address][0] == 200, address
    handler = type("Handler", (_Recorded,), {"pages": recorded, "reports": [], "missing": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    violations = {}
    browsed = [a.format(case=case.pk) for a in BROWSED]
    try:
        for address in browsed:
            result = subprocess.run(  # noqa: S603 - chromium on our own loopback page
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--enable-logging=stderr",
                    "--v=0",
                    "--virtual-time-budget=4000",
                    f"--user-data-dir={Path(settings.MEDIA_ROOT).parent / secrets.token_hex(4)}",
                    "--dump-dom",
                    f"http://127.0.0.1:{server.server_port}{address}",
                ],
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
            console = [
                line
                for line in result.stderr.splitlines()
                if "Content Security Policy" in line or "Refused to" in line
            ]
            if console:
                violations[address] = console
            assert "<body" in result.stdout, (address, result.stderr[-2000:])
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert violations == {}
    assert handler.reports == []
    assert [path for path in handler.missing if "favicon" not in path] == []


# --- production settings --------------------------------------------------------------------------


@pytest.mark.engine_independent
def test_check_deploy_finds_no_issue_with_the_production_settings(tmp_path, production_static):
    # In the README's order: after collectstatic (its manifest is one of the checks).
    env = {**production_env(tmp_path), "DJANGO_STATIC_ROOT": str(production_static)}
    env.pop("DJANGO_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.engine_independent
def test_production_cookies_are_secure_and_hsts_is_on(tmp_path):
    shown = _settings_in_subprocess(
        production_env(tmp_path),
        "(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, "
        "settings.SESSION_COOKIE_HTTPONLY, settings.SECURE_HSTS_SECONDS >= 31536000, "
        "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_SSL_REDIRECT, "
        "settings.LANGUAGE_COOKIE_SECURE, "
        "'upgrade-insecure-requests' in settings.CONTENT_SECURITY_POLICY['DIRECTIVES'])",
        module="config.settings.production",
    )
    assert shown == repr((False, True, True, True, True, True, True, True, True))


@pytest.mark.engine_independent
def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    env = {**production_env(tmp_path), "DJANGO_SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_an_admin_login_is_throttled_too(db):
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    codes = [
        Client()
        .post("/admin/login/", {"username": "root", "password": "guess"}, REMOTE_ADDR="10.1.1.1")
        .status_code
        for _ in range(5)
    ]
    assert codes[-1] == 429


def test_officer_accounts_are_locked_per_agency_user_not_per_role(agency):
    """Two officers at one address: one's lockout does not lock the other."""
    factories.officer(Role.SIGNER, agency, "signer-a")
    factories.officer(Role.SIGNER, agency, "signer-b")
    for _ in range(5):
        ask_token("signer-a", "guess")
    assert ask_token("signer-a", "pw").status_code == 429
    assert ask_token("signer-b", "pw").status_code == 200


# --- robustness against hostile input (bugs found here, in other apps' views) ----------------------


def test_marking_a_notification_read_with_an_absurd_id_is_not_a_server_error(applicant, client):
    client.force_login(applicant)
    response = client.post("/notifications/", {"id": "9" * 30})
    assert response.status_code == 400  # no id is that large: a clear refusal
    assert response.json()["field"] == "id"


def test_the_portal_marks_read_with_an_absurd_id_without_a_server_error(applicant, client):
    client.force_login(applicant)
    response = client.post("/portal/notifications/", {"id": "9" * 30})
    assert response.status_code == 400
