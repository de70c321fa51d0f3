"""The case event log: every step leaves an event, events never change, tampering is found.

Events are appended the way the services do it: inside the transaction of the change,
after locking the case row. The only way around the ORM's append-only guard is raw
SQL (on PostgreSQL as a superuser who switches off the trigger that refuses it), which
is what the tampering stories use; ``verify_events`` must then name the case and the
first event whose link is broken.
"""

import datetime
import io
import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.management.commands import verify_events as verify_events_command
from cases.events import (
    GENESIS,
    case_event_payloads,
    case_lock,
    chain_verify,
    event_payload,
    event_record,
    payload_hash,
)
from cases.models import Case, CaseEvent
from tests import factories
from tests.attacker import attacker_sql
from workflows import actions

EVENTS_TABLE = CaseEvent._meta.db_table

# These stories count and number events; the messages a case event queues (and their
# own events) are the notifications tests' business.
pytestmark = pytest.mark.usefixtures("without_notifications")


# --- how the stories set up cases and events ---------------------------------------------


@pytest.fixture
def officer(agency):
    return factories.officer("case_officer", agency, username="officer-li")


def objection(company, agency, applicant, *, grounds="The fine was paid on the day."):
    record = factories.RecordFactory(subject=company, agency=agency)
    return actions.case_submit(
        kind=Case.Kind.OBJECTION,
        subject=company,
        records=[record],
        grounds=grounds,
        applicant=applicant,
    )


def append(case, kind, *, actor, note="", role="case_officer", **kwargs):
    """Record one more event as a service does: in a transaction, with the case locked."""
    with transaction.atomic():
        locked = case_lock(case)
        return event_record(locked, kind, actor=actor, role=role, note=note, **kwargs)


@pytest.fixture
def case(company, agency, applicant, officer):
    """A case with three events: submitted (#1), accepted (#2), evidence_reviewed (#3)."""
    case = objection(company, agency, applicant)
    append(case, "accepted", actor=officer, note="Materials complete.")
    append(case, "evidence_reviewed", actor=officer, note="Receipt checked against the bank.")
    return case


@pytest.fixture
def other_case(company, agency, applicant, officer):
    case = objection(company, agency, applicant, grounds="The decision names the wrong branch.")
    append(case, "accepted", actor=officer)
    return case


def sql(statement, params):
    """Tamper as an attacker with raw SQL would (on PostgreSQL: a superuser who first
    switches off the trigger that refuses it to everyone else)."""
    attacker_sql(statement, params)


def verify(*args):
    """Run ``verify_events``; return (output, error message or None)."""
    out = io.StringIO()
    try:
        call_command("verify_events", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


# --- what an event records ---------------------------------------------------------------


def test_submitting_a_case_records_who_did_it_in_what_role_when_and_the_status_after(
    company, agency, applicant
):
    before = timezone.now()

    case = objection(company, agency, applicant)

    event = CaseEvent.objects.get(case=case)
    assert event.seq == 1
    assert event.kind == "submitted"
    assert event.actor == applicant
    assert event.actor_name == "acme"
    assert event.actor_role == "applicant"
    assert event.automated is False
    assert before <= event.at <= timezone.now()
    assert event.after == {"status": "submitted"}
    assert event.data["kind"] == "objection"


def test_the_first_event_of_a_case_links_to_64_zeros(company, agency, applicant):
    case = objection(company, agency, applicant)

    event = CaseEvent.objects.get(case=case)
    assert event.prev_hash == GENESIS == "0" * 64
    assert len(event.hash) == 64
    assert event.hash != GENESIS


def test_each_next_event_links_to_the_hash_of_the_one_before(case):
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {"submitted", "accepted"} <= {e.kind for e in events}
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert chain_verify(case_event_payloads(case)) is None


def test_chains_are_per_case(case, other_case):
    first_of_other = CaseEvent.objects.get(case=other_case, seq=1)

    assert first_of_other.prev_hash == GENESIS


def test_an_event_records_the_rule_version_the_case_is_under(case, officer):
    rule_set = factories.list_type().rule_sets.get(severity="general", instrument="ndrc36")
    Case.objects.filter(pk=case.pk).update(rule_set=rule_set)

    event = append(case, "review_completed", actor=officer)

    assert event.rule_version == rule_set.label == "penalty_publication/general v2 (2026-04-01)"
    assert chain_verify(case_event_payloads(case)) is None


# --- events cannot be changed through the ORM --------------------------------------------


def test_a_saved_event_cannot_be_saved_again(case):
    event = CaseEvent.objects.get(case=case, seq=2)
    event.note = "Materials were not complete."

    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.save(update_fields=["note"])

    assert CaseEvent.objects.get(case=case, seq=2).note == "Materials complete."


def test_an_event_cannot_be_deleted(case):
    event = CaseEvent.objects.get(case=case, seq=2)

    with pytest.raises(TypeError, match="append-only"):
        event.delete()

    assert CaseEvent.objects.filter(case=case).count() == 3


def test_events_cannot_be_updated_or_deleted_in_bulk(case):
    events = CaseEvent.objects.filter(case=case)

    with pytest.raises(TypeError, match="append-only"):
        events.update(note="rewritten")
    with pytest.raises(TypeError, match="append-only"):
        events.delete()
    with pytest.raises(TypeError, match="append-only"):
        case.events.all().delete()
    # bulk_update runs in its own atomic block, which the refusal rolls back.
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        CaseEvent.objects.bulk_update(list(events), ["note"])

    assert CaseEvent.objects.filter(case=case).count() == 3
    assert chain_verify(case_event_payloads(case)) is None


def test_a_case_with_events_cannot_be_deleted(case):
    with pytest.raises(ProtectedError):
        Case.objects.filter(pk=case.pk).delete()

    assert CaseEvent.objects.filter(case=case).count() == 3


# --- how events must be recorded -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_event_cannot_be_recorded_outside_the_transaction_of_its_change(
    company, agency, applicant, officer
):
    case = objection(company, agency, applicant)

    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_record(case, "accepted", actor=officer, role="case_officer")

    assert CaseEvent.objects.filter(case=case).count() == 1


def test_an_event_without_a_person_must_be_marked_automated(case):
    with transaction.atomic():
        locked = case_lock(case)
        with pytest.raises(ValueError, match="marked automated"):
            event_record(locked, "closed", actor=None, role="system")

    assert CaseEvent.objects.filter(case=case).count() == 3


def test_an_automated_event_has_no_actor_and_says_so(case):
    event = append(case, "closed", actor=None, role="system", automated=True)

    assert event.seq == 4
    assert event.actor is None
    assert event.actor_name == ""
    assert event.automated is True
    assert chain_verify(case_event_payloads(case)) is None


def test_what_is_hashed_is_what_is_stored(case, officer):
    """Values that JSON changes on the way in (dates, tuples) are hashed as stored."""
    append(
        case,
        "evidence_reviewed",
        actor=officer,
        data={"until": datetime.date(2025, 3, 1), "items": ("commitment_letter",)},
    )

    stored = CaseEvent.objects.get(case=case, seq=4)
    assert stored.data == {"until": "2025-03-01", "items": ["commitment_letter"]}
    assert chain_verify(case_event_payloads(case)) is None


# --- verify_events on a sound database --------------------------------------------------------


def test_verify_events_reports_every_chain_intact(case, other_case):
    output, error = verify()

    assert error is None
    assert output.strip() == "Checked 2 cases, 5 events: all chains intact."


def test_verify_events_on_an_empty_database_has_nothing_to_report(db):
    output, error = verify()

    assert error is None
    assert output.strip() == "Checked 0 cases, 0 events: all chains intact."


def test_verify_events_checks_only_the_case_asked_for(case, other_case):
    sql(f"UPDATE {EVENTS_TABLE} SET note = %s WHERE case_id = %s", ["forged", case.pk])

    output, error = verify("--case", other_case.reference)

    assert error is None
    assert output.strip() == "Checked 1 cases, 2 events: all chains intact."


def test_verify_events_refuses_an_unknown_case_reference(case):
    with pytest.raises(CommandError, match="No case with reference RD-1999-000001"):
        call_command("verify_events", "--case", "RD-1999-000001", stdout=io.StringIO())


def test_verify_events_reads_the_events_a_batch_of_cases_at_a_time(
    company, agency, applicant, officer, monkeypatch
):
    monkeypatch.setattr(verify_events_command, "BATCH", 2)

    def queries_to_verify(cases: int) -> int:
        while Case.objects.count() < cases:
            case = objection(company, agency, applicant, grounds=f"Ground {Case.objects.count()}")
            append(case, "accepted", actor=officer)
        with CaptureQueriesContext(connection) as queries:
            output, error = verify()
        assert error is None
        assert f"Checked {cases} cases, {2 * cases} events" in output
        return len(queries)

    # A fixed number of queries (cases, checkpoints, references), then one per batch of
    # cases for their events: never all events at once, nor one query a case.
    with_four = queries_to_verify(4)
    assert queries_to_verify(8) == with_four + 2


def test_a_broken_chain_amid_a_batch_is_named_and_its_neighbours_are_not(
    company, agency, applicant, officer, monkeypatch
):
    monkeypatch.setattr(verify_events_command, "BATCH", 3)
    cases = []
    for n in range(5):
        cases.append(objection(company, agency, applicant, grounds=f"Ground {n}"))
        append(cases[-1], "accepted", actor=officer)
    tampered = sorted(cases, key=lambda c: c.reference)[1]  # the middle of the first batch
    sql(
        f"UPDATE {EVENTS_TABLE} SET note = %s WHERE case_id = %s AND seq = 2",
        ["Materials were never checked.", tampered.pk],
    )

    output, error = verify()

    assert error == "1 of 5 case chains are broken."
    lines = output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{tampered.reference}: event #2 (accepted): content does not")


# --- tampering -----------------------------------------------------------------------------------


def test_changing_an_event_in_the_database_is_reported_at_that_event(case, other_case):
    sql(
        f"UPDATE {EVENTS_TABLE} SET note = %s WHERE case_id = %s AND seq = 2",
        ["Materials were never checked.", case.pk],
    )

    output, error = verify()

    assert error == "1 of 2 case chains are broken."
    lines = output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{case.reference}: event #2 (accepted): content does not match")
    assert lines[0].endswith("the event was altered")
    assert other_case.reference not in output


def test_changing_an_event_and_its_hash_is_reported_at_the_next_event(case):
    event = CaseEvent.objects.get(case=case, seq=2)
    event.note = "Materials were never checked."
    forged = event_payload(event, reference=case.reference)

    sql(
        f"UPDATE {EVENTS_TABLE} SET note = %s, hash = %s WHERE id = %s",
        [event.note, payload_hash(forged), event.pk],
    )

    output, error = verify()

    assert error == "1 of 1 case chains are broken."
    assert f"{case.reference}: event #3 (evidence_reviewed): does not link" in output


def test_deleting_an_event_in_the_database_is_reported_where_it_is_missing(case, other_case):
    sql(f"DELETE FROM {EVENTS_TABLE} WHERE case_id = %s AND seq = 2", [case.pk])

    output, error = verify()

    assert error == "1 of 2 case chains are broken."
    assert output.strip() == (
        f"{case.reference}: event #3 (evidence_reviewed): expected event #2: events are missing"
    )


def test_deleting_an_event_and_renumbering_the_rest_breaks_the_link(case):
    sql(f"DELETE FROM {EVENTS_TABLE} WHERE case_id = %s AND seq = 2", [case.pk])
    sql(f"UPDATE {EVENTS_TABLE} SET seq = 2 WHERE case_id = %s AND seq = 3", [case.pk])

    output, error = verify()

    assert error == "1 of 1 case chains are broken."
    assert output.strip() == (
        f"{case.reference}: event #2 (evidence_reviewed): does not link to the event before it "
        "(an event was changed or removed)"
    )


def test_deleting_every_event_of_a_case_is_reported(case, other_case):
    sql(f"DELETE FROM {EVENTS_TABLE} WHERE case_id = %s", [case.pk])

    output, error = verify()

    assert error == "1 of 2 case chains are broken."
    assert (
        output.strip() == f"{case.reference}: event #1 (submitted): the case has no events at all"
    )


def test_swapping_the_content_of_two_events_is_detected(case, other_case):
    accepted = CaseEvent.objects.get(case=case, seq=2)
    reviewed = CaseEvent.objects.get(case=case, seq=3)
    swap = f"UPDATE {EVENTS_TABLE} SET kind = %s, note = %s WHERE id = %s"
    sql(swap, [reviewed.kind, reviewed.note, accepted.pk])
    sql(swap, [accepted.kind, accepted.note, reviewed.pk])

    output, error = verify()

    assert error == "1 of 2 case chains are broken."
    assert output.startswith(f"{case.reference}: event #2 (evidence_reviewed): content does not")
    assert other_case.reference not in output


def test_reordering_two_events_is_detected(case):
    sql(f"UPDATE {EVENTS_TABLE} SET seq = 99 WHERE case_id = %s AND seq = 2", [case.pk])
    sql(f"UPDATE {EVENTS_TABLE} SET seq = 2 WHERE case_id = %s AND seq = 3", [case.pk])
    sql(f"UPDATE {EVENTS_TABLE} SET seq = 3 WHERE case_id = %s AND seq = 99", [case.pk])

    output, error = verify()

    assert error == "1 of 1 case chains are broken."
    assert output.startswith(f"{case.reference}: event #2 (evidence_reviewed): does not link")


def test_every_broken_case_is_listed(case, other_case, company, agency, applicant):
    intact = objection(company, agency, applicant, grounds="Listed under the wrong code.")
    for broken in (case, other_case):
        sql(
            f"UPDATE {EVENTS_TABLE} SET actor_name = %s WHERE case_id = %s AND seq = 1",
            ["someone-else", broken.pk],
        )

    output, error = verify()

    assert error == "2 of 3 case chains are broken."
    assert f"{case.reference}: event #1 (submitted)" in output
    assert f"{other_case.reference}: event #1 (submitted)" in output
    assert intact.reference not in output
