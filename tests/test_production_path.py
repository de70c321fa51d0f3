"""The README's production path, for real: production settings, gunicorn, a browser.

With ``DJANGO_SETTINGS_MODULE=config.settings.production`` and nothing but the
environment the README names, the test runs ``collectstatic --no-input``, ``migrate`` and
``check --deploy`` as subprocesses, starts gunicorn on a free port, and a real browser (Playwright driving
Debian's ``/usr/bin/chromium``, as ``tests/test_browser_story.py`` does) loads the login
page, signs in as an entity and sees the portal, then as an officer and sees the
workspace. Every response is watched: a 5xx anywhere, or a static file that fails or
answers 4xx/5xx, fails the test.

The database is PostgreSQL when ``DATABASE_URL`` names it (a scratch database on that
server, dropped afterwards), else a temporary SQLite file.

TLS: production settings redirect http to https, mark cookies Secure and ask the browser
to upgrade every request (CSP ``upgrade-insecure-requests``). Chromium does accept Secure
cookies from http://127.0.0.1, but it upgrades the redirect after the login form to
https, which plain http cannot answer. Rather than switch any of that off, gunicorn
serves TLS itself with a throw-away certificate (trustme), as the TLS proxy does in
production, and the browser ignores that the certificate is self-made. The settings under
test are exactly the production ones.

Without Playwright, chromium or gunicorn the module is skipped; under ``CI=true`` it
fails instead.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.production import ROOT, production_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
ON_CI = os.environ.get("CI") == "true"


def _needs(condition: bool, reason: str) -> None:
    if condition:
        return
    if ON_CI:
        raise RuntimeError(f"CI=true: the production-path test must run, but {reason}")
    pytest.skip(reason, allow_module_level=True)


try:
    import trustme
    from playwright.sync_api import expect, sync_playwright
except ImportError as missing:
    _needs(False, f"it needs {missing.name}: scripts/setup test installs the test extras")
_needs(CHROMIUM.exists(), f"it needs Debian's chromium at {CHROMIUM}: run scripts/setup test")
try:
    import gunicorn  # noqa: F401
except ImportError:
    _needs(False, "it needs gunicorn (the test extras): run scripts/setup test")

ENTITY, OFFICER = "prod-entity", "prod-officer"
PASSWORD = "a long production password 7"  # checked by PBKDF2 as in production

# Users made the way an administrator would, through the models, in the production
# database: an officer of one agency, and a confirmed representative of one company.
MAKE_USERS = f"""
from django.contrib.auth import get_user_model
from django.utils import timezone
from cases.models import Agency, Membership, Representation, Role, Subject
from cases.identifiers import make_uscc

User = get_user_model()
agency = Agency.objects.create(code="SZAMR", name="深圳市市场监督管理局", region_code="440300")
# Production issues letters only under the agency's own seal (documents.E003).
import io
from django.core.files.base import ContentFile
from PIL import Image
seal = io.BytesIO()
Image.new("RGBA", (120, 120), (200, 0, 0, 255)).save(seal, "PNG")
agency.seal.save("szamr.png", ContentFile(seal.getvalue()))
officer = User.objects.create_user({OFFICER!r}, password={PASSWORD!r})
Membership.objects.create(user=officer, agency=agency, role=Role.CASE_OFFICER)
company = Subject.objects.create(
    kind=Subject.Kind.LEGAL, code=make_uscc(org_body="55667788"), name="深圳市示例科技有限公司"
)
entity = User.objects.create_user({ENTITY!r}, password={PASSWORD!r})
Representation.objects.create(user=entity, subject=company, confirmed_at=timezone.now())
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _database(tmp_path: Path):
    """The production database's URL: a scratch PostgreSQL database when DATABASE_URL
    names PostgreSQL, else a SQLite file; removed afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'production.sqlite3'}"
        return
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'redress'}_prodpath_{os.getpid()}"
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(env, *args: str) -> subprocess.Popen:
    """``manage.py`` with ``args`` under the production environment, in the background."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen) -> None:
    """Waits for a ``_start``-ed command, which must succeed."""
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    command = " ".join(process.args[2:])
    assert process.returncode == 0, f"{command} exited {process.returncode}:\n{output[-4000:]}"


def _stop(process: subprocess.Popen) -> None:
    """gunicorn and its workers, whatever happened: SIGTERM to its process group, then
    SIGKILL if it has not gone within ten seconds."""
    with contextlib.suppress(ProcessLookupError):  # already gone, workers too
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the throw-away certificate
    return context


def _wait_until_serving(process, url: str, log: Path, timeout: float = 45) -> None:
    insecure = _insecure_tls()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, context=insecure, timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except urllib.error.HTTPError as error:
            pytest.fail(f"{url} answered {error.code}:\n{log.read_text()[-4000:]}")
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def production_site(tmp_path_factory, request):
    """Redress as the README runs it in production, on https://127.0.0.1:<port>.

    ``collectstatic --no-input`` under these settings is ``production_static``
    (tests/conftest.py: it takes a while, and the deploy-check test needs it too); it runs
    while ``migrate`` does (they touch different things: STATIC_ROOT, the database).
    """
    tmp_path = tmp_path_factory.mktemp("production-site")
    port = _free_port()
    with _database(tmp_path) as database_url:
        env = production_env(
            tmp_path / "var", DJANGO_ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=database_url
        )
        migrate = _start(env, "migrate", "--no-input")
        try:
            env["DJANGO_STATIC_ROOT"] = str(request.getfixturevalue("production_static"))
        finally:
            _finish(migrate)
        steps = [
            _start(env, "check", "--deploy", "--fail-level", "WARNING"),
            _start(env, "shell", "-c", MAKE_USERS),
        ]
        for step in steps:
            _finish(step)

        authority = trustme.CA()
        certificate = authority.issue_cert("127.0.0.1")
        cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
        certificate.cert_chain_pems[0].write_to_path(str(cert_file))
        certificate.private_key_pem.write_to_path(str(key_file))

        log = tmp_path / "gunicorn.log"
        with log.open("w") as log_file:
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
                [
                    *(sys.executable, "-m", "gunicorn", "config.wsgi"),
                    *("--bind", f"127.0.0.1:{port}", "--workers", "2"),
                    *("--certfile", str(cert_file), "--keyfile", str(key_file)),
                    *("--access-logfile", "-", "--error-logfile", "-"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with its workers
            )
        try:
            base_url = f"https://127.0.0.1:{port}"
            _wait_until_serving(server, f"{base_url}/accounts/login/", log)
            yield base_url, log
        finally:
            _stop(server)  # before the scratch database is dropped


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_readme_production_path_serves_every_page_with_its_static_files(
    production_site, browser
):
    base_url, log = production_site
    problems: list[str] = []
    cache_control: dict[str, str] = {}

    def watch(page) -> None:
        def on_response(response) -> None:
            path = urlsplit(response.url).path
            cache_control[path] = response.headers.get("cache-control", "")
            if response.status >= 500 or (path.startswith("/static/") and response.status >= 400):
                problems.append(f"{response.status} {response.url}")

        def on_failed(request) -> None:
            if urlsplit(request.url).path.startswith("/static/"):
                problems.append(f"failed {request.url}: {request.failure}")

        page.on("response", on_response)
        page.on("requestfailed", on_failed)

    def sign_in(username: str):
        context = browser.new_context(base_url=base_url, locale="en-US", ignore_https_errors=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch(page)
        page.goto("/accounts/login/")
        expect(page.locator("input[name=username]")).to_be_visible()
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        return context, page

    # The entity lands on the portal: who it acts for.
    context, page = sign_in(ENTITY)
    page.wait_for_url("**/portal/")
    expect(page.locator("#subjects-heading")).to_be_visible()
    expect(page.get_by_text("深圳市示例科技有限公司")).to_be_visible()
    page.wait_for_load_state("networkidle")
    context.close()

    # The officer lands in the workspace (viewflow's frontend, most of the static files).
    context, page = sign_in(OFFICER)
    page.wait_for_url("**/workflow/**")
    expect(page.get_by_role("link", name="Inbox").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    context.close()

    assert problems == [], "\n".join(problems) + "\n" + log.read_text()[-4000:]
    assert " 500 " not in log.read_text()
    # Pages with personal data stay out of caches; hashed static files are kept for long.
    assert "no-store" in cache_control["/portal/"]
    viewflow_css = next(p for p in cache_control if p.startswith("/static/viewflow/css/viewflow"))
    assert "immutable" in cache_control[viewflow_css]
    assert "no-store" not in cache_control[viewflow_css]


def test_a_body_larger_than_an_address_accepts_is_refused_before_it_is_sent(production_site):
    """The client declares 100 MB and sends none of it: an answer at all proves the server
    did not wait for the body."""
    base_url, _log = production_site
    address = urlsplit(base_url)
    connection = http.client.HTTPSConnection(
        address.hostname, address.port, context=_insecure_tls(), timeout=20
    )
    try:
        connection.putrequest("POST", "/verify/ANYCODE/")
        connection.putheader("Content-Type", "multipart/form-data; boundary=letter")
        connection.putheader("Content-Length", str(100 * 1024 * 1024))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert "5.0\xa0MB" in response.read().decode()
    finally:
        connection.close()
