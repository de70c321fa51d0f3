"""One vocabulary of case events: every page names an event the same way, in the reader's
language, and the applicant's side shows the same events and notes wherever they read.

A case goes through its real route (filed, accepted, reviewed, signed); every other kind
of event is then appended as its service would (in a transaction, the case locked), with
the subscribers muted so that no letter or message is produced for an event that did not
really happen. The pages are read in Chinese, as most of their readers read them.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from cases.events import case_event_payloads, case_lock, chain_verify, event_record
from cases.models import CaseEvent, ClockEntry
from cases.signals import case_event_recorded
from cases.vocabulary import NOTIFICATION_KINDS, NOTIFICATION_OUTCOMES, EventKind
from tests import flow_helpers as flow
from tests.helpers import api_token, restorable_record

NOTE = "给申请人的说明"  # every appended event carries this note, so each note rule shows


@pytest.fixture(autouse=True)
def file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        location = tmp_path / alias
        location.mkdir()
        monkeypatch.setattr(storages[alias], "location", str(location))


@pytest.fixture
def case(company, agency, platforms, applicant, staff, monkeypatch):
    """A decided restoration whose timeline holds an event of every kind."""
    case = flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"])
    flow.sign(case, staff["signer"])
    written = set(case.events.values_list("kind", flat=True))
    assert {"submitted", "accepted", "evidence_reviewed", "decided"} <= written
    assert "notification_queued" in written  # the subscribers did their part

    monkeypatch.setattr(case_event_recorded, "receivers", [])
    monkeypatch.setattr(case_event_recorded, "sender_receivers_cache", {})
    for kind in EventKind:
        if kind not in written:
            with transaction.atomic():
                event_record(
                    case_lock(case), kind, actor=None, role="system", automated=True, note=NOTE
                )
    return flow.refresh(case)


def in_chinese(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def chinese(kind: EventKind) -> str:
    with translation.override("zh-hans"):
        return str(kind.label)


def chinese_text(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


def english(kind: EventKind) -> str:
    with translation.override("en"):
        return str(kind.label)


class TextNodes(HTMLParser):
    """The text a reader sees: every text node, stripped, outside scripts and styles."""

    def __init__(self):
        super().__init__()
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in {"script", "style"}

    def handle_endtag(self, tag):
        self._hidden -= tag in {"script", "style"}

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.nodes.append(" ".join(data.split()))


def text_nodes(body: str) -> list[str]:
    parser = TextNodes()
    parser.feed(body)
    return parser.nodes


def assert_no_code_and_no_english(body: str, *, besides: set[str] = frozenset()) -> None:
    """No text on the page is a kind's code, the code spelled as words, or an English label
    (``besides``: texts of another origin that may happen to equal one)."""
    untranslated = {}
    for kind in EventKind:
        untranslated[kind.value] = kind
        untranslated[kind.value.replace("_", " ")] = kind
        untranslated[english(kind)] = kind
    shown = [node for node in text_nodes(body) if node in untranslated and node not in besides]
    assert shown == [], shown


def portal_labels(body: str) -> list[str]:
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', body, re.S).group(1)
    return [html.unescape(label) for label in re.findall(r"<strong>(.*?)</strong>", timeline)]


def workspace_labels(body: str) -> dict[int, str]:
    labels = {}
    for seq, row in re.findall(r'<tr data-event="(\d+)">(.*?)</tr>', body, re.S):
        what = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[3]
        labels[int(seq)] = html.unescape(what.split("<br>")[0].strip())
    return labels


# --- the pages ------------------------------------------------------------------------------------


def test_the_applicant_reads_every_step_of_the_case_in_chinese_and_no_internal_one(
    client, case, applicant
):
    body = client_get(in_chinese(client, applicant), reverse("portal:case", args=[case.pk]))

    events = list(case.events.order_by("seq"))
    shown = [e for e in events if EventKind(e.kind).shown_to_applicant]
    # Every step in order; the messages of a step are one row each, once delivered.
    labels = portal_labels(body)
    delivered = chinese_text(NOTIFICATION_OUTCOMES["notification_sent"])
    assert [label for label in labels if not label.startswith(delivered)] == [
        chinese(EventKind(e.kind)) for e in shown if e.kind not in NOTIFICATION_KINDS
    ]
    # Delivery trouble is the officers' to mend, and a revocation is deliberated inside
    # the agency (the applicant reads it once it takes effect): the timeline leaves them out.
    assert {e.kind for e in events} - {e.kind for e in shown} == {
        "letter_failed",
        "letter_requeued",
        "notification_sent",
        "notification_failed",
        "notification_dead",
        "notification_retried",
        # The agency's internal approval of a non-acceptance (SAMR Order 107 Art. 14(3)).
        "non_acceptance_proposed",
        "non_acceptance_declined",
        "revocation_proposed",
        "revocation_legal_review_passed",
        "revocation_signed",
        "revocation_dropped",
    }
    # Notes written to the applicant are shown; the officers' working notes are not.
    assert "Materials complete." in body
    assert "Reviewed item by item." not in body
    assert body.count(NOTE) == sum(
        1 for e in shown if e.note == NOTE and EventKind(e.kind).note_for_applicant
    )
    assert_no_code_and_no_english(body)


def test_officers_read_every_event_of_the_case_in_chinese(client, case, staff):
    body = client_get(
        in_chinese(client, staff["supervisor"]), reverse("workspace:case", args=[case.pk])
    )

    expected = {
        e.seq: chinese(EventKind(e.kind))
        for e in case.events.all()
        if e.kind not in NOTIFICATION_KINDS
    }
    labels = workspace_labels(body)
    assert {seq: label for seq, label in labels.items() if seq in expected} == expected
    kinds = {CaseEvent.objects.get(case=case, seq=s).kind for s in expected}
    assert len(kinds) == len(EventKind) - len(NOTIFICATION_KINDS)
    # The messages: one row per kind of message and outcome of each step, not one per
    # message and attempt, and none for a message only queued (tests/test_browser_newcomer).
    folded = [label for seq, label in labels.items() if seq not in expected]
    outcomes = {chinese_text(label) for label in NOTIFICATION_OUTCOMES.values()}
    assert all(label.split("：")[0] in outcomes for label in folded), folded
    # The clock ledger's reasons are stored as the services wrote them ("submitted",
    # "accepted"): free text, not event kinds, and not this vocabulary's to name.
    reasons = set(ClockEntry.objects.filter(case=case).values_list("reason", flat=True))
    assert_no_code_and_no_english(body, besides=reasons)


def client_get(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- the API reads the same rule ------------------------------------------------------------------


def timeline(user, case) -> list[dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    response = client.get(f"/api/v1/cases/{case.pk}/")
    assert response.status_code == 200, response.json()
    return response.json()["timeline"]


def test_the_applicant_reads_the_same_events_and_notes_over_the_api_as_on_the_portal(
    case, applicant
):
    events = timeline(applicant, case)

    kinds = [e["kind"] for e in events]
    assert kinds == [
        e.kind for e in case.events.order_by("seq") if EventKind(e.kind).shown_to_applicant
    ]
    notes = {e["kind"]: e["note"] for e in events if e["note"]}
    # The acceptance note and the reason of an extension reach the applicant here too, as
    # on the portal; an officer's working note (the review's) does not.
    assert notes["accepted"] == "Materials complete."
    assert notes["deadline_extended"] == NOTE
    assert "Reviewed item by item." not in notes.values()
    assert all(EventKind(kind).note_for_applicant for kind in notes)


def test_officers_read_every_event_and_note_over_the_api(case, staff):
    events = timeline(staff["supervisor"], case)

    assert [e["kind"] for e in events] == list(
        case.events.order_by("seq").values_list("kind", flat=True)
    )
    assert next(e for e in events if e["kind"] == "notification_dead")["note"] == NOTE


# --- what event_record accepts --------------------------------------------------------------------


def test_an_event_of_a_kind_without_a_label_is_refused_and_nothing_is_written(case):
    before = (case.events.count(), case.head_seq, case.head_hash)

    with transaction.atomic(), pytest.raises(ValueError, match=r"cases\.vocabulary\.EventKind"):
        event_record(case_lock(case), "reminder_sent", actor=None, role="system", automated=True)

    case.refresh_from_db()
    assert (case.events.count(), case.head_seq, case.head_hash) == before
    assert chain_verify(case_event_payloads(case)) is None


def test_the_chain_holds_the_kinds_code_whether_the_caller_names_the_member_or_the_code(case):
    with transaction.atomic():
        by_member = event_record(
            case_lock(case), EventKind.LETTER_FAILED, actor=None, role="system", automated=True
        )
    with transaction.atomic():
        by_code = event_record(
            case_lock(case), "letter_failed", actor=None, role="system", automated=True
        )

    # What was hashed is the plain code, so an export reads the same either way.
    assert type(by_member.kind) is str and by_member.kind == by_code.kind == "letter_failed"
    stored = CaseEvent.objects.filter(pk__in=[by_member.pk, by_code.pk])
    assert [e.kind for e in stored] == ["letter_failed", "letter_failed"]
    assert chain_verify(case_event_payloads(case)) is None
