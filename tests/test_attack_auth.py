"""Logins as an attacker meets them (issue 10, findings 4 and 9).

API tokens: every login gets a token of its own, kept only as a hash, that expires
(10 hours by default) and is revoked by the API's logout, by its holder (in the API and
on a page of the portal and of the workspace), by a new password on any path and by
signing out of the web pages.

Guessing: failed logins from one address across many usernames are throttled on the
token endpoint and the login page alike, for a short sliding window; password-reset
mails are limited per address and per e-mail address, with the same answer whether or
not an account has that address.
"""

from __future__ import annotations

import datetime
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from notifications import tasks
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "Correct-Horse-Battery-9"


def delivered() -> list:
    """The mails sent so far: the worker delivers what the outbox holds, as its sweep does."""
    tasks.sweep()
    return mail.outbox


def log_in_api(username="acme", password="pw", address="10.0.0.1", **extra):  # noqa: S107
    return APIClient(**extra).post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def token_of(username="acme", password="pw") -> str:  # noqa: S107
    response = log_in_api(username, password)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def holder(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str) -> bool:
    status = holder(token).get("/api/v1/cases/").status_code
    assert status in (200, 401), status
    return status == 200


def browser_of(username="acme", password="pw") -> Client:  # noqa: S107
    browser = Client()
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return browser


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session and browser.get("/portal/").status_code == 200


@pytest.fixture
def later(monkeypatch):
    """Moves the clock forward by a given time for the rest of the test."""

    def move(delta: datetime.timedelta) -> None:
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + delta)

    return move


# --- finding 4: a token per login, hashed, expiring ---------------------------------------------


def test_every_login_gets_a_token_of_its_own(applicant):
    first = log_in_api()
    second = log_in_api()

    assert first.status_code == second.status_code == 200
    assert first.json()["token"] != second.json()["token"]
    assert works(first.json()["token"]) and works(second.json()["token"])


def test_a_token_stops_working_ten_hours_after_the_login(applicant, later):
    before = timezone.now()
    response = log_in_api()
    token = response.json()["token"]

    expiry = datetime.datetime.fromisoformat(response.json()["expiry"])
    assert before + datetime.timedelta(hours=10) <= expiry
    assert expiry <= timezone.now() + datetime.timedelta(hours=10)
    later(datetime.timedelta(hours=9, minutes=59))
    assert works(token)
    later(datetime.timedelta(minutes=2))
    refused = holder(token).get("/api/v1/cases/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"


@pytest.mark.engine_independent
def test_the_token_lifetime_comes_from_the_environment(tmp_path):
    shown = _settings_in_subprocess(
        {"REDRESS_VAR_DIR": str(tmp_path), "REDRESS_API_TOKEN_HOURS": "2"},
        "(settings.REST_KNOX['TOKEN_TTL'].total_seconds(), settings.REST_KNOX['AUTO_REFRESH'])",
    )
    assert shown == repr((7200.0, False))


def test_the_database_never_holds_a_token(applicant):
    token = token_of()
    dump = io.StringIO()

    call_command("dumpdata", stdout=dump)

    assert token[:20] not in dump.getvalue()
    assert works(token)


# --- finding 4: revoked on logout -----------------------------------------------------------------


def test_logging_out_of_the_api_revokes_the_token_presented_and_no_other(applicant):
    first, second = token_of(), token_of()

    response = holder(first).post("/api/v1/auth/logout/")

    assert response.status_code == 204
    assert not works(first)
    assert works(second)


def test_logging_out_everywhere_revokes_every_token_of_the_caller(applicant, staff):
    first, second = token_of(), token_of()
    colleague = token_of("intake-szamr")

    response = holder(first).post("/api/v1/auth/logout-all/")

    assert response.status_code == 204
    assert not works(first) and not works(second)
    assert works(colleague)


def test_signing_out_of_the_web_pages_revokes_the_api_tokens_too(applicant):
    token = token_of()
    browser = browser_of()

    browser.post("/accounts/logout/")

    assert not signed_in(browser)
    assert not works(token)


# --- finding 4: revoked with a new password, on every path ---------------------------------------


def test_a_new_password_on_the_account_page_ends_every_token_and_every_other_session(applicant):
    tokens = [token_of(), token_of()]
    elsewhere = browser_of()
    here = browser_of()
    applicant.refresh_from_db()
    applicant.first_name = "Acme"
    applicant.save()  # saving the account without a new password keeps them all
    assert all(works(token) for token in tokens)

    response = here.post(
        "/accounts/password_change/",
        {"old_password": "pw", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert not any(works(token) for token in tokens)
    assert not signed_in(elsewhere)
    assert signed_in(here)  # the person who changed it stays signed in
    assert works(token_of(password=NEW_PASSWORD))


def test_a_password_set_by_an_administrator_ends_the_users_tokens_and_sessions(applicant):
    token = token_of()
    elsewhere = browser_of()
    admin = Client()
    admin.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))

    response = admin.post(
        f"/admin/auth/user/{applicant.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content
    assert not works(token)
    assert not signed_in(elsewhere)


def test_a_password_reset_ends_every_token_and_session(applicant):
    token = token_of()
    elsewhere = browser_of()
    stranger = Client()

    stranger.post("/accounts/password_reset/", {"email": "acme@example.test"})
    link = re.search(r"/accounts/reset/\S+/", delivered()[-1].body).group(0)
    form = stranger.get(link, follow=True)
    response = stranger.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content
    assert not works(token)
    assert not signed_in(elsewhere)


# --- finding 4: the holder sees and revokes their tokens ----------------------------------------------


def test_the_api_lists_the_callers_tokens_without_their_secret(applicant, staff):
    first, second = token_of(), token_of()
    token_of("intake-szamr")
    holder(second).get("/api/v1/cases/")

    listed = holder(first).get("/api/v1/auth/tokens/")

    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert len(rows) == 2
    assert {row["prefix"] for row in rows} == {first[:8], second[:8]}
    assert [row["current"] for row in rows if row["prefix"] == first[:8]] == [True]
    assert [row["last_used_at"] is not None for row in rows if row["prefix"] == second[:8]] == [
        True
    ]
    assert all(row["expiry"] and row["created"] for row in rows)
    assert first not in listed.content.decode() and second not in listed.content.decode()


def test_a_holder_revokes_one_token_in_the_api_and_nobody_elses(applicant, staff):
    mine, other = token_of(), token_of()
    colleague = token_of("intake-szamr")
    rows = holder(mine).get("/api/v1/auth/tokens/").json()["results"]
    other_id = next(row["id"] for row in rows if row["prefix"] == other[:8])
    colleague_id = holder(colleague).get("/api/v1/auth/tokens/").json()["results"][0]["id"]

    assert holder(mine).delete(f"/api/v1/auth/tokens/{colleague_id}/").status_code == 404
    assert holder(mine).delete(f"/api/v1/auth/tokens/{other_id}/").status_code == 204

    assert not works(other)
    assert works(mine) and works(colleague)


def test_the_portal_has_a_page_to_see_and_revoke_ones_tokens(client, applicant):
    token, other = token_of(), token_of()
    client.force_login(applicant)

    overview = client.get("/portal/").content.decode()
    assert 'href="/portal/api-tokens/"' in overview
    page = client.get("/portal/api-tokens/").content.decode()
    assert f"{token[:8]}…" in page and f"{other[:8]}…" in page
    assert token not in page

    token_id = re.search(
        rf'id="token-(\d+)">\s*<th scope="row"[^>]*><span class="code">{token[:8]}', page
    )
    response = client.post("/portal/api-tokens/", {"token": token_id.group(1)}, follow=True)

    assert f"Token {token[:8]}… is revoked." in response.content.decode()
    assert not works(token)
    assert works(other)


def test_the_workspace_has_a_page_to_see_and_revoke_ones_tokens(client, staff):
    officer = staff["intake"]
    tokens = [token_of(officer.username), token_of(officer.username)]
    client.force_login(officer)

    inbox = client.get("/workflow/inbox/").content.decode()
    assert 'href="/workflow/api-tokens/"' in inbox
    page = client.get("/workflow/api-tokens/").content.decode()
    assert all(f"{token[:8]}…" in page for token in tokens)

    response = client.post("/workflow/api-tokens/", {"all": "1"}, follow=True)

    assert "2 tokens are revoked." in response.content.decode()
    assert not any(works(token) for token in tokens)


def test_nobody_revokes_anothers_token_on_the_page(client, applicant, staff):
    colleague = token_of("intake-szamr")
    colleague_id = holder(colleague).get("/api/v1/auth/tokens/").json()["results"][0]["id"]
    client.force_login(applicant)

    assert client.post("/portal/api-tokens/", {"token": colleague_id}).status_code == 404
    assert works(colleague)


def test_an_administrator_sees_a_persons_tokens_and_revokes_them(applicant):
    token = token_of()
    admin = Client()
    admin.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))

    listed = admin.get("/admin/cases/apitoken/")
    assert listed.status_code == 200
    assert f"{token[:8]}…" in listed.content.decode()
    assert token not in listed.content.decode()
    token_id = holder(token).get("/api/v1/auth/tokens/").json()["results"][0]["id"]
    response = admin.post(f"/admin/cases/apitoken/{token_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not works(token)


def test_the_schema_documents_the_token_endpoints(db):
    schema = APIClient().get("/api/schema/?format=json").json()

    paths = schema["paths"]
    for path in (
        "/api/v1/auth/logout/",
        "/api/v1/auth/logout-all/",
        "/api/v1/auth/tokens/",
        "/api/v1/auth/tokens/{id}/",
    ):
        assert path in paths, path
    assert "delete" in paths["/api/v1/auth/tokens/{id}/"]
    issued = schema["components"]["schemas"]["Token"]
    assert set(issued["properties"]) == {"token", "expiry"}
    assert {"tokenAuth": []} in paths["/api/v1/auth/tokens/"]["get"]["security"]


def test_the_upgrade_revokes_the_old_tokens_kept_in_clear(transactional_db):
    """REST framework's tokens (before this change) are dropped, with their table."""
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    migration = import_module("cases.migrations.0009_api_tokens")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, "
            "user_id integer)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef', NULL, 1)")
    MigrationRecorder(connection).record_applied("authtoken", "0001_initial")

    migration.revoke_rest_framework_tokens(None, type("Editor", (), {"connection": connection}))

    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()


# --- finding 9: failed logins from one address across usernames -------------------------------------


def test_one_guess_each_for_forty_usernames_from_one_address_is_throttled(applicant):
    codes = [log_in_api(f"name{n}", "Spring2026!").status_code for n in range(40)]

    assert codes[:19] == [400] * 19
    assert codes[19:] == [429] * 21
    refused = log_in_api("acme", "pw")  # even a real password, from there, for a while
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "locked_out",
        "message": "Too many failed logins from your address: try again in 15 minutes.",
    }
    assert "token" not in refused.json()
    assert log_in_api("acme", "pw", address="10.0.0.2").status_code == 200


def test_spraying_the_login_page_is_throttled_too(applicant):
    def attempt(username, password="Spring2026!"):  # noqa: S107 - a guess
        return Client().post(
            "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.5"
        )

    codes = [attempt(f"name{n}").status_code for n in range(25)]

    assert codes[:19] == [200] * 19  # the form again, with its error
    assert set(codes[19:]) == {429}
    refused = attempt("acme", "pw")
    assert refused.status_code == 429
    assert "Too many failed logins from your address" in refused.content.decode()


def test_the_login_page_and_the_api_count_together_for_an_address(applicant):
    for n in range(10):
        Client().post(
            "/accounts/login/", {"username": f"page{n}", "password": "x"}, REMOTE_ADDR="10.0.0.1"
        )
    codes = [log_in_api(f"api{n}", "x").status_code for n in range(10)]
    assert codes == [400] * 9 + [429]


def test_an_address_is_free_again_fifteen_minutes_after_the_failures(applicant):
    for n in range(20):
        log_in_api(f"name{n}", "guess")
    assert log_in_api("acme", "pw").status_code == 429

    AccessFailureLog.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

    assert log_in_api("acme", "pw").status_code == 200


def test_retrying_behind_a_throttled_address_does_not_lock_ones_own_username(applicant):
    """The office user who keeps retrying while an attacker at the same address sprays
    is refused, but does not lock themselves out for half an hour on top of it."""
    for n in range(20):
        log_in_api(f"name{n}", "guess")
    assert [log_in_api("acme", "typo").status_code for _ in range(6)] == [429] * 6

    AccessFailureLog.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

    assert log_in_api("acme", "pw").status_code == 200
    assert not AccessAttempt.objects.filter(username="acme").exists()


def test_the_address_throttle_is_in_the_callers_language(applicant):
    for n in range(20):
        log_in_api(f"name{n}", "guess")

    refused = log_in_api("acme", "pw", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.json()["message"]
    assert "15" in refused.json()["message"]


@pytest.mark.engine_independent
def test_the_address_limits_come_from_the_environment(tmp_path):
    shown = _settings_in_subprocess(
        {
            "REDRESS_VAR_DIR": str(tmp_path),
            "REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT": "50",
            "REDRESS_LOGIN_ADDRESS_WINDOW_MINUTES": "5",
            "REDRESS_PASSWORD_RESET_ADDRESS_LIMIT": "7",
            "REDRESS_PASSWORD_RESET_EMAIL_LIMIT": "2",
            "REDRESS_PASSWORD_RESET_WINDOW_MINUTES": "30",
        },
        "(settings.REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT, "
        "settings.REDRESS_LOGIN_ADDRESS_WINDOW.total_seconds(), "
        "settings.REDRESS_PASSWORD_RESET_ADDRESS_LIMIT, settings.REDRESS_PASSWORD_RESET_EMAIL_LIMIT, "
        "settings.REDRESS_PASSWORD_RESET_WINDOW.total_seconds())",
    )
    assert shown == repr((50, 300.0, 7, 2, 1800.0))


# --- finding 9: password reset mails ----------------------------------------------------------------------


def ask_reset(email, address="10.0.0.1"):
    return Client().post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)


def test_password_reset_mails_are_limited_per_address(applicant):
    codes = [ask_reset(f"someone{n}@example.test").status_code for n in range(10)]
    assert codes == [302] * 10

    refused = ask_reset("acme@example.test")

    assert refused.status_code == 429
    assert (
        "Too many password reset requests from your address: try again in 60 minutes."
        in refused.content.decode()
    )
    assert delivered() == []
    assert ask_reset("acme@example.test", address="10.0.0.2").status_code == 302
    assert len(delivered()) == 1


def test_password_reset_mails_are_limited_per_account_from_any_address(applicant):
    codes = [ask_reset("ACME@example.test", address=f"10.0.1.{n}").status_code for n in range(4)]

    assert codes == [302, 302, 302, 429]
    assert len(delivered()) == 3


def test_the_limits_answer_alike_whether_or_not_an_account_has_the_address(applicant):
    def story(email, first_address):
        answers = []
        for n in range(4):
            response = ask_reset(email, address=f"{first_address}.{n}")
            answers.append((response.status_code, response.get("Location")))
            if response.status_code == 429:
                page = response.content.decode().replace(email, "EMAIL")
                answers.append(re.sub(r"csrfmiddlewaretoken\" value=\"\w+", "", page))
        return answers

    existing = story("acme@example.test", "10.0.2")
    assert [answer[0] for answer in existing if isinstance(answer, tuple)] == [302, 302, 302, 429]
    assert existing == story("nobody@example.test", "10.0.3")


def test_password_reset_is_open_again_after_the_window(applicant):
    for n in range(3):
        ask_reset("acme@example.test", address=f"10.0.1.{n}")
    assert ask_reset("acme@example.test").status_code == 429
    from cases.models import PasswordResetRequest

    PasswordResetRequest.objects.update(
        requested_at=timezone.now() - datetime.timedelta(minutes=61)
    )

    assert ask_reset("acme@example.test").status_code == 302
    assert len(delivered()) == 4


def test_the_reset_table_keeps_no_email_address(applicant):
    from cases.models import PasswordResetRequest

    ask_reset("acme@example.test")

    row = PasswordResetRequest.objects.get()
    assert "acme" not in row.email_digest
    assert row.address == "10.0.0.1"
    assert get_user_model().objects.filter(email="acme@example.test").exists()


# --- helpers ------------------------------------------------------------------------------------------


def _settings_in_subprocess(env: dict, expression: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr({expression}))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and settings
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
