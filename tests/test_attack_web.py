"""Issue 10's findings about the web layer, as an operator and an attacker meet them.

The production static files are collected (a package's stylesheet that names a file it
lacks no longer stops ``collectstatic``; ``check --deploy`` says when they were not
collected); a request larger than its endpoint accepts is refused with 413 before its
body is read; a session ends after 30 idle minutes and 12 hours at most, and nothing
personal is left in a cache; an unhandled error answers a 500 in the API's error shape
under /api/ and a plain page elsewhere, never a traceback.

The production path as a whole (gunicorn, a browser) is ``tests/test_production_path.py``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import viewflow
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.cases import CaseViewSet
from config.middleware import MULTIPART_ALLOWANCE, UPLOAD_LIMITS
from config.staticfiles import RedressStaticFilesStorage
from documents.codes import verification_code_new
from documents.models import Letter
from tests import flow_helpers as flow
from tests.helpers import api_token, pdf_bytes, restorable_record
from tests.production import ROOT, production_env

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture
def case(company, agency, platforms, applicant):
    """A restoration at its acceptance check, with its two materials."""
    return flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )


LETTER_PDF = b"%PDF-1.4\n% an issued letter\n%%EOF\n"


def issued_letter(case) -> Letter:
    """An issued letter with a stored (placeholder) PDF."""
    letter = Letter(
        case=case,
        kind=Letter.Kind.ACCEPTANCE,
        language="en",
        status=Letter.Status.ISSUED,
        verification_code=verification_code_new(),
        issued_at=timezone.now(),
        template_version="test",
        template_sha256="0" * 64,
        html="<p>Acceptance notice</p>",
        sha256=hashlib.sha256(LETTER_PDF).hexdigest(),
        size=len(LETTER_PDF),
    )
    letter.pdf.save(f"{case.reference}/{letter.file_name}", ContentFile(LETTER_PDF), save=False)
    letter.save()
    return letter


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


# --- 1: the production static files ------------------------------------------------------------


@pytest.mark.engine_independent
def test_collectstatic_under_production_settings_collects_what_the_pages_use(production_static):
    manifest = json.loads((production_static / "staticfiles.json").read_text())["paths"]

    for name in (
        "viewflow/css/viewflow.min.css",
        "viewflow/js/viewflow.min.js",
        "viewflow/fonts/roboto/roboto-fontface.css",
        "viewflow/fonts/roboto/Roboto-Regular.woff2",
        "portal/portal.css",
        "portal/upload.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "admin/css/base.css",
    ):
        assert name in manifest, name
        assert (production_static / manifest[name]).is_file(), manifest[name]
        assert manifest[name] != name  # hashed: browsers may keep it for a year


def _collect(target: Path, source: Path, names: list[str]) -> list:
    """What ``collectstatic`` does with ``names`` from ``source``: copy, then post-process."""
    storage = RedressStaticFilesStorage(location=str(target), base_url="/static/")
    origin = FileSystemStorage(location=str(source))
    for name in names:
        with origin.open(name) as content:
            storage.save(name, content)
    return list(storage.post_process({name: (origin, name) for name in names}))


@pytest.mark.engine_independent
def test_a_packages_stylesheet_naming_a_file_it_does_not_ship_is_left_as_written(tmp_path, caplog):
    # The very file that stopped collectstatic: django-viewflow 2.4's build leftover.
    viewflow_static = Path(viewflow.__file__).parent / "static"
    name = "viewflow/fonts/roboto/node_modules/roboto-fontface/css/roboto/roboto-fontface.css"
    assert "url('./Roboto-Thin.woff2')" in (viewflow_static / name).read_text()

    with caplog.at_level(logging.WARNING, logger="config.staticfiles"):
        processed = _collect(tmp_path, viewflow_static, [name])

    assert [p for p in processed if isinstance(p[2], Exception)] == []
    hashed = next(hashed for original, hashed, _ in processed if original == name)
    assert "url('./Roboto-Thin.woff2')" in (tmp_path / hashed).read_text()
    assert any("Roboto-Thin.woff2" in r.getMessage() for r in caplog.records)


@pytest.mark.engine_independent
def test_our_own_stylesheet_naming_a_missing_file_still_stops_collectstatic(tmp_path):
    ours = tmp_path / "source"
    (ours / "portal").mkdir(parents=True)
    (ours / "portal" / "broken.css").write_text("body { background: url('missing.png'); }")

    processed = _collect(tmp_path / "collected", ours, ["portal/broken.css"])

    failures = [p[2] for p in processed if isinstance(p[2], Exception)]
    assert len(failures) == 1
    assert "missing.png" in str(failures[0])


@pytest.mark.engine_independent
def test_check_deploy_says_when_the_static_files_were_not_collected(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "redress.E001" in result.stderr
    assert "collectstatic" in result.stderr


# --- 15: request sizes ---------------------------------------------------------------------


class BodyThatMustNotBeRead:
    """``wsgi.input`` of a client that declared a large body: counts what is read of it."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 64 * 1024 if size is None or size < 0 else min(size, 64 * 1024)
        self.read_bytes += size
        if self.read_bytes > 4 * MB:  # enough to tell; do not stream 100 MB through a test
            return b""
        return b"-" * size

    def readline(self, size=-1):
        return self.read(size)


def post_declaring(client, path: str, length: int, **headers):
    body = BodyThatMustNotBeRead()
    response = client.generic(
        "POST",
        path,
        b"",
        **{
            "CONTENT_TYPE": "multipart/form-data; boundary=xyz",
            "CONTENT_LENGTH": str(length),
            "wsgi.input": body,
        },
        **headers,
    )
    return response, body


def test_a_huge_anonymous_post_to_the_verify_page_is_refused_before_it_is_read(db, case):
    letter = issued_letter(case)

    response, body = post_declaring(
        Client(), reverse("letter_verify", args=[letter.verification_code]), 100 * MB
    )

    assert response.status_code == 413
    assert body.read_bytes == 0
    assert response["Content-Type"].startswith("text/html")
    assert b"100.0\xc2\xa0MB" in response.content  # what was sent, and the limit (5 MB)
    assert b"5.0\xc2\xa0MB" in response.content


def test_a_copy_of_a_letter_still_reaches_the_verify_page(client, case):
    letter = issued_letter(case)

    response = client.post(
        reverse("letter_verify", args=[letter.verification_code]),
        {"file": ContentFile(LETTER_PDF, name="copy.pdf")},
    )

    assert response.status_code == 200
    assert response.context["match"] is True


def test_an_evidence_file_over_the_limit_is_refused_in_the_api_shape_before_it_is_read(
    settings, case, applicant
):
    settings.REDRESS_UPLOAD_MAX_BYTES = 1 * MB
    client = token_client(applicant)

    response, body = post_declaring(
        client, f"/api/v1/cases/{case.pk}/evidence/", 1 * MB + MULTIPART_ALLOWANCE + 1
    )

    assert response.status_code == 413
    assert body.read_bytes == 0
    assert response.json()["code"] == "too_large"
    assert "1.0\xa0MB" in response.json()["message"]


def test_an_evidence_file_at_the_limit_still_reaches_the_case(settings, case, applicant):
    settings.REDRESS_UPLOAD_MAX_BYTES = 200_000
    content = pdf_bytes("at the limit")
    content += b"%" * (200_000 - len(content))
    client = token_client(applicant)

    response = client.post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": ContentFile(content, name="limit.pdf"), "material": "other"},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert response.json()["size"] == 200_000


def test_the_portals_upload_script_gets_the_reason_as_json(settings, client, case, applicant):
    settings.REDRESS_UPLOAD_MAX_BYTES = 1 * MB
    client.force_login(applicant)

    response, body = post_declaring(
        client,
        reverse("portal:evidence_upload", args=[case.pk]),
        30 * MB,
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 413
    assert body.read_bytes == 0
    assert "Send one file of at most 1.0\xa0MB at a time." in response.json()["message"]


def test_any_other_address_takes_only_a_small_body(db):
    page, page_body = post_declaring(Client(), "/accounts/login/", 2 * MB)
    api, api_body = post_declaring(APIClient(), "/api/v1/auth/token/", 2 * MB)

    assert (page.status_code, page_body.read_bytes) == (413, 0)
    assert (api.status_code, api_body.read_bytes) == (413, 0)
    assert api.json()["code"] == "too_large"


def test_a_small_form_is_not_affected(client, applicant):
    response = client.post("/accounts/login/", {"username": "acme", "password": "pw"})

    assert response.status_code == 302


def test_the_too_large_page_speaks_the_persons_language(db):
    response, _ = post_declaring(
        Client(), "/accounts/login/", 2 * MB, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert response.status_code == 413
    text = response.content.decode()
    assert '<html lang="zh-hans">' in text
    assert "请求" in text and "太大" in text


def test_every_upload_limit_names_a_real_address():
    arguments = {"letter_verify": ["CODE"], "portal:link_request": []}
    for name in UPLOAD_LIMITS:
        assert reverse(name, args=arguments.get(name, [1]))


# --- 16: sessions and caches ---------------------------------------------------------------


class Clock:
    """``timezone.now`` moved forward as the story needs."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **delta) -> None:
        self.now += datetime.timedelta(**delta)


def test_an_idle_session_ends_and_the_next_page_is_the_login_page(client, case, staff, monkeypatch):
    clock = Clock(monkeypatch)
    client.force_login(staff["intake"])
    inbox = reverse("workspace:inbox")
    assert client.get(inbox).status_code == 200

    clock.advance(minutes=29)
    assert client.get(inbox).status_code == 200
    clock.advance(minutes=29)  # 58 minutes after signing in: each request restarts the wait
    assert client.get(inbox).status_code == 200

    clock.advance(minutes=31)
    response = client.get(inbox)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def _session_writes(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return sum(
        1
        for q in captured.captured_queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    )


def test_a_page_writes_the_session_at_most_once_a_minute_and_keeps_it_alive(
    client, case, staff, monkeypatch
):
    clock = Clock(monkeypatch)
    client.force_login(staff["intake"])
    inbox = reverse("workspace:inbox")
    client.get(inbox)

    clock.advance(seconds=30)
    assert _session_writes(client, inbox) == 0  # nothing to move: saved half a minute ago
    clock.advance(seconds=45)
    assert _session_writes(client, inbox) == 1  # 75 s since the last save: moved on

    # A request every 45 s for 40 minutes: a few of them write, and the session lives on.
    writes = 0
    for _ in range(int(40 * 60 / 45)):
        clock.advance(seconds=45)
        writes += _session_writes(client, inbox)
    assert 0 < writes <= 40 * 60 / 60

    clock.advance(minutes=31)  # then idle for longer than the timeout: signed out
    response = client.get(inbox)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_an_active_session_ends_twelve_hours_after_signing_in(client, case, staff, monkeypatch):
    clock = Clock(monkeypatch)
    client.force_login(staff["intake"])
    inbox = reverse("workspace:inbox")
    statuses = []
    for _ in range(int(13 * 60 / 20)):  # a request every 20 minutes for 13 hours
        clock.advance(minutes=20)
        statuses.append(client.get(inbox).status_code)

    signed_out_at = statuses.index(302)
    assert (signed_out_at + 1) * 20 > 12 * 60  # not before 12 hours
    assert (signed_out_at + 1) * 20 <= 12 * 60 + 20  # the first request after them
    assert client.get(inbox).status_code == 302  # and it stays signed out


def test_an_api_call_on_an_idle_session_answers_401_in_the_api_shape(applicant, case, monkeypatch):
    clock = Clock(monkeypatch)
    client = APIClient()
    client.force_login(applicant)
    assert client.get("/api/v1/cases/").status_code == 200

    clock.advance(minutes=31)
    response = client.get("/api/v1/cases/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.engine_independent
def test_the_session_lifetimes_come_from_the_environment(tmp_path):
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SESSION_COOKIE_AGE, settings.REDRESS_SESSION_TOUCH_SECONDS, "
            "settings.REDRESS_SESSION_MAX_HOURS)",
        ],
        cwd=ROOT,
        env=production_env(
            tmp_path, REDRESS_SESSION_IDLE_MINUTES="15", REDRESS_SESSION_MAX_HOURS="8"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()

    assert shown == ["900", "60", "8"]


def _not_stored(response) -> bool:
    control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= control


def test_nothing_personal_is_left_in_a_cache(client, case, applicant, staff):
    letter = issued_letter(case)
    item = case.evidence.order_by("id").first()
    client.force_login(applicant)
    portal_pages = [
        client.get(reverse("portal:index")),
        client.get(reverse("portal:case", args=[case.pk])),
        client.get(reverse("portal:letter", args=[case.pk, letter.pk])),
    ]
    api = token_client(applicant)
    api_answers = [
        api.get("/api/v1/cases/"),
        api.get(f"/api/v1/cases/{case.pk}/"),
        api.get(f"/api/v1/cases/{case.pk}/letters/{letter.pk}/pdf/"),
    ]
    officer = Client()
    officer.force_login(staff["intake"])
    workspace = [
        officer.get(reverse("workspace:case", args=[case.pk])),
        officer.get(reverse("workspace:evidence_download", args=[item.pk])),
    ]

    for response in portal_pages + api_answers + workspace:
        assert response.status_code == 200, response.status_code
        assert _not_stored(response), response.get("Cache-Control")


def test_static_files_keep_their_cache_lifetime(settings, db):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the apps, as collected files are

    response = Client().get("/static/portal/portal.css")

    assert response.status_code == 200
    assert "no-store" not in response["Cache-Control"]
    assert "max-age=" in response["Cache-Control"]


# --- 18: unhandled errors ------------------------------------------------------------------


def _fail(*args, **kwargs):
    raise RuntimeError("database exploded: secret detail")


def test_an_unhandled_api_error_answers_500_in_the_api_shape_and_is_logged(
    applicant, case, monkeypatch, caplog
):
    monkeypatch.setattr(CaseViewSet, "get_queryset", _fail)
    client = token_client(applicant)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/cases/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "code": "server_error",
        "message": "Something went wrong on our side. The error has been recorded: try "
        "again later, or tell the administrator when it happened.",
    }
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and logged[0].exc_info[0] is RuntimeError


def test_the_api_500_message_is_in_the_callers_language(applicant, case, monkeypatch):
    monkeypatch.setattr(CaseViewSet, "get_queryset", _fail)
    client = token_client(applicant)
    client.raise_request_exception = False

    response = client.get("/api/v1/cases/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "出错" in response.json()["message"]


def test_an_unhandled_page_error_answers_a_plain_500_page(applicant, monkeypatch):
    monkeypatch.setattr("portal.views.cases_for", _fail)
    client = Client(raise_request_exception=False)
    client.force_login(applicant)

    response = client.get(reverse("portal:index"))

    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong" in text
    assert "secret detail" not in text and "Traceback" not in text


def test_the_500_page_speaks_the_persons_language(applicant, monkeypatch):
    monkeypatch.setattr("portal.views.cases_for", _fail)
    client = Client(raise_request_exception=False)
    client.force_login(applicant)

    response = client.get(reverse("portal:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 500
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "出错" in response.content.decode()


def test_an_unknown_page_answers_the_404_page(client, applicant):
    client.force_login(applicant)

    response = client.get("/portal/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert _not_stored(response)
