"""Publication ends by itself at the maximum period (《信用修复管理办法》第十二条).

A minor fine published on 2 April 2026 with a 3-month maximum is shown until 2 July and
ends on 3 July through the daily task: the record shows as expired on the portal and in
the API, every platform gets a signed withdrawal and its acknowledgement is tracked, the
record's trail gets an event, and the company is told with the date and the article. A
second run ends nothing; a dry run changes nothing; a record not yet due, one whose rule
version does not end publication by itself, and one whose own penalty term runs longer
stay published. A record in an open objection ends too, and the case shows it.
"""

from __future__ import annotations

import datetime
import io
import json
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from celery import current_app
from celery.schedules import crontab
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.expiry import publications_end
from cases.law import Citation, cite
from cases.models import Case, Publication, Record, RecordEvent
from cases.rules import publication_periods, rule_set_add_version
from notifications import signing
from notifications.models import Message, Notification
from tests import factories
from tests import flow_helpers as flow
from tests.attacker import attacker_sql
from tests.factories import list_type
from tests.helpers import api_token

D = datetime.date(2026, 4, 2)  # published on
SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRETS = {"creditchina": "s3cret-creditchina-0123456789", "gsxt": "s3cret-gsxt-9876543210"}


@pytest.fixture(autouse=True, scope="module")
def worker_tasks():
    """The tasks a worker (and beat) knows: those of every app, found as the worker finds
    them at start-up."""
    current_app.loader.import_default_modules()


# --- the rules and the records -------------------------------------------------------------


def minor_rules(agency, *, auto_end=True, max_months=3):
    """The agency's own rule version for minor penalties, every value set here: published
    at most 3 months, ending by itself (Order 36 Art. 12), no early-repair wait."""
    return rule_set_add_version(
        list_type=list_type(),
        severity="minor",
        agency=agency,
        effective_from=datetime.date(2020, 1, 1),
        instrument="ndrc36",
        min_publication_months=0,
        max_publication_months=max_months,
        auto_end=auto_end,
        citations={
            "auto_end": [cite("ndrc36", 12, 2)],
            "max_publication_months": [cite("ndrc36", 12, 1)],
        },
    )


@pytest.fixture
def rules(agency):
    return minor_rules(agency)


@pytest.fixture
def secrets(platforms):
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.save(update_fields=["webhook_secret"])
    return platforms


def minor_fine(subject, agency, rule_set, platforms=(), *, listed_on=D, **fields):
    restorable_from, expires_on = publication_periods(rule_set, listed_on)
    return factories.RecordFactory(
        subject=subject,
        agency=agency,
        severity="minor",
        penalty_type="fine",
        penalty_types=["fine"],
        fine_amount=3000,
        procedure="simplified",
        decided_on=listed_on,
        listed_on=listed_on,
        restorable_from=restorable_from,
        expires_on=expires_on,
        published_on=list(platforms),
        **fields,
    )


@pytest.fixture
def fine(company, agency, rules, secrets):
    return minor_fine(company, agency, rules, secrets)


def run_daily_task_on(monkeypatch, day: datetime.date) -> int:
    """Celery beat's daily run, on ``day`` at 01:00 in Shanghai."""
    at = datetime.datetime.combine(day, datetime.time(1, 0), tzinfo=SHANGHAI)
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: at)
        return current_app.tasks["cases.end_publications"].apply().get()


def command(*args) -> str:
    out = io.StringIO()
    call_command("end_publications", *args, stdout=out)
    return out.getvalue()


def withdrawals(record) -> list[Message]:
    return list(
        Message.objects.filter(
            channel=Message.Channel.WEBHOOK,
            kind="record_withdrawal_requested",
            payload__publication__in=list(record.publications.values_list("pk", flat=True)),
        ).order_by("platform__code")
    )


def ack(client, platform, body, *, key):
    """POST a signed acknowledgement as ``platform`` would."""
    content = json.dumps(body).encode()
    headers = signing.signed_headers(
        platform.webhook_secret, content, idempotency_key=key, now=time.time()
    )
    return client.post(
        f"/api/v1/platforms/{platform.code}/acknowledgements/",
        data=content,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def trail(record) -> list[str]:
    return list(record.events.order_by("seq").values_list("kind", flat=True))


# --- the story ---------------------------------------------------------------------------


def test_the_daily_task_is_scheduled_once_a_day_by_name():
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "cases.end_publications" in current_app.tasks
    assert isinstance(schedule["cases.end_publications"], crontab)
    assert schedule["cases.end_publications"].hour == {1}
    assert schedule["cases.end_publications"].minute == {0}


def test_a_minor_fine_ends_by_itself_after_its_three_month_maximum(
    client, monkeypatch, fine, platforms, applicant
):
    assert fine.expires_on == datetime.date(2026, 7, 2)

    # 2 July is the last day of the period: still published.
    assert run_daily_task_on(monkeypatch, datetime.date(2026, 7, 2)) == 0
    fine.refresh_from_db()
    assert fine.status == Record.Status.ACTIVE
    assert withdrawals(fine) == []

    assert run_daily_task_on(monkeypatch, datetime.date(2026, 7, 3)) == 1

    fine.refresh_from_db()
    assert fine.status == Record.Status.EXPIRED
    assert flow.publication_statuses(fine) == {Publication.Status.WITHDRAWAL_REQUESTED}

    # Every platform is asked, by signed webhook, to withdraw it.
    messages = withdrawals(fine)
    assert [m.platform.code for m in messages] == ["creditchina", "gsxt"]
    for message in messages:
        assert message.case is None
        assert message.payload["action"] == "record_withdrawal_requested"
        assert message.payload["reason"] == "publication_expired"
        assert message.payload["record"]["decision_no"] == fine.decision_no
        assert message.payload["record"]["status"] == "expired"
        assert message.payload["acknowledge_url"].endswith(
            f"/api/v1/platforms/{message.platform.code}/acknowledgements/"
        )

    # The record's trail says what ended, when, under which article and version.
    [event] = fine.events.all()
    assert event.kind == "publication_expired"
    assert event.automated and event.actor_role == "system"
    assert event.before == {"status": "active"} and event.after == {"status": "expired"}
    assert event.data["expires_on"] == "2026-07-02"
    assert event.data["ended_on"] == "2026-07-03"
    assert event.data["platforms"] == ["creditchina", "gsxt"]
    assert event.data["article_zh"] == "《信用修复管理办法》第十二条第二款"
    assert event.rule_version.startswith("penalty_publication/minor v1")

    # The company is told, in the app and by mail (in its language, English here), with
    # the date and the article.
    [notice] = Notification.objects.filter(user=applicant, kind="publication_expired")
    assert "2026-07-03" in notice.title
    assert "2026-07-02" in notice.body and event.data["article_en"] in notice.body
    assert event.data["article_en"] == Citation.parse(cite("ndrc36", 12, 2)).en
    assert "信用中国" in notice.body
    [mail] = Message.objects.filter(channel=Message.Channel.EMAIL, kind="publication_expired")
    assert mail.recipient_user == applicant and mail.body == notice.body

    # The portal and the API show it expired.
    client.force_login(applicant)
    page = client.get(reverse("portal:records")).content.decode()
    row = page[page.index(f'id="record-{fine.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Expired" in row and "Active" not in row
    assert "Withdrawal requested" in row
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(applicant)}")
    [shown] = [r for r in api.get("/api/v1/records/").json()["results"] if r["id"] == fine.pk]
    assert shown["status"] == "expired"
    assert {p["status"] for p in shown["publications"]} == {"withdrawal_requested"}

    # Each platform acknowledges; each acknowledgement is tracked.
    for platform, message in zip(platforms, messages, strict=True):
        response = ack(
            client,
            platform,
            {
                "publication": message.payload["publication"],
                "status": "withdrawn",
                "idempotency_key": message.idempotency_key,
            },
            key=f"ack-{platform.code}",
        )
        assert response.status_code == 200, response.content
    assert flow.publication_statuses(fine) == {Publication.Status.WITHDRAWN}
    assert all(p.acknowledged_at for p in fine.publications.all())
    assert all(m.acknowledged_at for m in withdrawals(fine))
    assert trail(fine) == ["publication_expired", "platform_acknowledged", "platform_acknowledged"]
    assert [e.data["platform"] for e in fine.events.filter(kind="platform_acknowledged")] == [
        "creditchina",
        "gsxt",
    ]

    # The next day's run ends nothing again and tells nobody again.
    counts = (Message.objects.count(), Notification.objects.count(), RecordEvent.objects.count())
    assert run_daily_task_on(monkeypatch, datetime.date(2026, 7, 4)) == 0
    assert counts == (
        Message.objects.count(),
        Notification.objects.count(),
        RecordEvent.objects.count(),
    )
    fine.refresh_from_db()
    assert fine.status == Record.Status.EXPIRED


def test_the_record_trail_is_a_hash_chain_that_verify_events_checks(monkeypatch, fine):
    run_daily_task_on(monkeypatch, datetime.date(2026, 7, 3))
    [event] = fine.events.all()

    assert event.prev_hash == "0" * 64 and len(event.hash) == 64
    with pytest.raises(TypeError, match="append-only"):
        RecordEvent.objects.filter(pk=event.pk).update(note="changed")
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    event.note = "changed"
    with pytest.raises(TypeError, match="Record events are append-only"):
        event.save()
    assert RecordEvent.objects.get(pk=event.pk).note == ""
    assert event.automated  # nobody decided it: the system ended the publication
    call_command("verify_events", stdout=io.StringIO())  # intact: no error

    # Someone moves the end date in the database: verify_events names the record.
    attacker_sql(
        "UPDATE cases_recordevent SET data = %s WHERE id = %s",
        [json.dumps({**event.data, "expires_on": "2026-12-31"}), event.pk],
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 records' own event trails are broken"):
        call_command("verify_events", stdout=out)
    assert f"record SZAMR|{fine.decision_no}|{fine.subject.code}: event #1" in out.getvalue()


def test_a_dry_run_lists_what_would_end_and_changes_nothing(fine, company):
    out = command("--dry-run", "--on", "2026-07-03")

    assert fine.decision_no in out
    assert company.name in out and company.code in out
    assert "penalty_publication" in out and "2026-07-02" in out
    assert "creditchina, gsxt" in out
    assert "Would end the publication of 1 records on 2026-07-03; 2 platforms would be told" in out
    fine.refresh_from_db()
    assert fine.status == Record.Status.ACTIVE
    assert flow.publication_statuses(fine) == {Publication.Status.PUBLISHED}
    assert not Message.objects.exists() and not RecordEvent.objects.exists()
    assert not Notification.objects.exists()


def test_the_command_ends_what_is_due_and_says_how_much(fine):
    out = command("--on", "2026-07-03")

    assert "Ended the publication of 1 records on 2026-07-03; 2 platforms told" in out
    fine.refresh_from_db()
    assert fine.status == Record.Status.EXPIRED
    assert "Ended the publication of 0 records" in command("--on", "2026-07-03")


def test_a_record_shielded_during_a_reorganisation_still_ends_at_its_maximum(fine):
    fine.status = Record.Status.SHIELDED
    fine.save(update_fields=["status"])
    fine.publications.update(status=Publication.Status.SHIELDED)

    out = command("--on", "2026-07-03")

    assert "Ended the publication of 1 records on 2026-07-03; 2 platforms told" in out
    fine.refresh_from_db()
    assert fine.status == Record.Status.EXPIRED
    assert set(fine.publications.values_list("status", flat=True)) == {
        Publication.Status.WITHDRAWAL_REQUESTED
    }


def test_records_not_due_or_kept_by_their_rules_stay_published(
    company, agency, other_agency, rules, secrets
):
    not_yet = minor_fine(company, agency, rules, secrets, listed_on=datetime.date(2026, 4, 3))
    no_end_date = factories.RecordFactory(
        subject=company, agency=agency, severity="minor", expires_on=None, published_on=secrets
    )
    kept_rules = minor_rules(other_agency, auto_end=False)
    kept = minor_fine(company, other_agency, kept_rules, secrets)
    longer_term = minor_fine(
        company, agency, rules, secrets, term_ends_on=datetime.date(2026, 9, 30)
    )
    assert kept.expires_on == longer_term.expires_on == datetime.date(2026, 7, 2)

    run = publications_end(on=datetime.date(2026, 7, 3))

    assert run.ended == [] and run.kept == 1
    for record in (not_yet, no_end_date, kept, longer_term):
        record.refresh_from_db()
        assert record.status == Record.Status.ACTIVE
        assert flow.publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert not Message.objects.exists() and not RecordEvent.objects.exists()

    # The penalty's own term ends on 30 September: publication ends the day after.
    assert publications_end(on=datetime.date(2026, 9, 30)).ended != []  # not_yet only
    longer_term.refresh_from_db()
    assert longer_term.status == Record.Status.ACTIVE
    [ending] = publications_end(on=datetime.date(2026, 10, 1)).ended
    assert ending.decision_no == longer_term.decision_no
    kept.refresh_from_db()
    assert kept.status == Record.Status.ACTIVE


def test_many_due_records_are_ended_in_batches(company, agency, rules, secrets):
    records = [minor_fine(company, agency, rules, secrets) for _ in range(7)]

    run = publications_end(on=datetime.date(2026, 7, 3), batch_size=3)

    assert sorted(e.record_id for e in run.ended) == sorted(r.pk for r in records)
    assert run.platforms_told == 14
    assert Record.objects.filter(status=Record.Status.EXPIRED).count() == 7


# --- a record in an open case -------------------------------------------------------------------


def test_a_record_under_objection_still_ends_and_the_case_shows_it(
    client, private_files, company, agency, rules, secrets, applicant, staff
):
    today = timezone.localdate()
    listed = today - relativedelta(months=3) - datetime.timedelta(days=1)
    record = minor_fine(company, agency, rules, secrets, listed_on=listed)
    case = flow.objection_accepted(company, [record], applicant, staff)
    record.refresh_from_db()
    assert record.status == Record.Status.DISPUTED

    [ending] = publications_end(on=today).ended

    assert ending.open_cases == (case.reference,)
    record.refresh_from_db()
    assert record.status == Record.Status.EXPIRED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}
    case = flow.refresh(case)
    assert case.status == Case.Status.UNDER_REVIEW  # the objection goes on
    event = flow.last_event(case, "publication_expired")
    assert event.automated and event.data["record"] == record.decision_no

    # The case's officers see it on the case page: the record's status and the event.
    client.force_login(staff["case_officer"])
    page = client.get(reverse("workspace:case", args=[case.pk])).content.decode()
    assert "Publication ended by itself at the maximum period" in page
    assert "Expired" in page

    # Rejecting the objection later leaves the record expired, not published again.
    flow.review(case, staff["case_officer"], flow.REJECTED)
    case = flow.sign(case, staff["signer"], flow.REJECTED)
    record.refresh_from_db()
    assert record.status == Record.Status.EXPIRED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}


# --- two runs at once ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_end_each_record_once(postgres_only, company, agency, rules, secrets):
    records = [minor_fine(company, agency, rules, secrets) for _ in range(20)]
    runs, errors = [], []

    def run():
        try:
            runs.append(publications_end(on=datetime.date(2026, 7, 3), batch_size=4))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    ended = [e.record_id for r in runs for e in r.ended]
    assert sorted(ended) == sorted(r.pk for r in records)  # each once, by one run or the other
    assert RecordEvent.objects.filter(kind="publication_expired").count() == 20
    assert Message.objects.filter(kind="record_withdrawal_requested").count() == 40


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_record_event(postgres_only, monkeypatch, fine):
    run_daily_task_on(monkeypatch, datetime.date(2026, 7, 3))
    [event] = fine.events.all()

    with pytest.raises(IntegrityError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE cases_recordevent SET note = 'x' WHERE id = %s", [event.pk])
