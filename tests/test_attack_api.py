"""The API's and the pages' edges, as the outside security test (issue 10) probed them.

Malformed numbers anywhere (Unicode digits, out-of-range ids) are a clear 400 or 404,
never a 500 and never another row; a platform's acknowledgement is accepted once,
whatever key a copy carries; proving a link to a subject does not tell who is listed;
a closed task is 409 before anyone's eligibility is looked at; and the OpenAPI schema
says what the code accepts.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.errors import InvalidInput
from cases.ids import id_parse, whole_number
from cases.models import Case, Role
from notifications.models import Notification
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from workflows import services as route

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def arabic(number: int) -> str:
    """``number`` written in Arabic-Indic digits, which Python's ``int()`` reads."""
    return str(number).translate(ARABIC_INDIC)


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def filed(company, record, applicant) -> Case:
    return flow.file_restoration(company, [record], applicant)


# --- 8: malformed numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(2**63 - 1), 2**63 - 1),
        (7, 7),
        ("0", None),
        (0, None),
        (str(2**63), None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("٣", None),  # int() says 3
        ("３", None),  # a full-width digit
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("", None),
        (None, None),
        (True, None),
        (1.0, None),
        ("9" * 5000, None),
    ],
)
def test_an_id_is_written_in_ascii_digits_within_a_bigint(value, expected):
    assert id_parse(value) == expected


def test_a_whole_number_may_be_bounded_on_either_side_or_not_at_all():
    assert whole_number("200", minimum=1, maximum=200) == 200
    assert whole_number("201", minimum=1, maximum=200) is None
    assert whole_number(2**70) == 2**70
    assert whole_number("٢٠٠") is None


@pytest.mark.parametrize("value", ["²", "٣", "abc", "", str(2**64)])
def test_a_malformed_notification_id_is_a_400_in_the_error_shape_and_marks_nothing(
    applicant, value
):
    note = Notification.objects.create(user=applicant, kind="decided", title="Decided")

    response = signed_in(applicant).post("/notifications/", {"id": [value]})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_input",
        "message": "Nothing was marked read: a notification number is not valid.",
        "field": "id",
    }
    note.refresh_from_db()
    assert note.read_at is None


def test_a_notification_id_in_another_scripts_digits_does_not_name_the_notification(applicant):
    note = Notification.objects.create(user=applicant, kind="decided", title="Decided")

    response = signed_in(applicant).post("/notifications/", {"id": [arabic(note.pk)]})

    assert response.status_code == 400
    note.refresh_from_db()
    assert note.read_at is None


def test_the_portal_refuses_a_malformed_notification_id_instead_of_marking_everything_read(
    applicant,
):
    notes = [
        Notification.objects.create(user=applicant, kind="decided", title=f"Decided {n}")
        for n in range(2)
    ]

    for value in ("²", "abc", arabic(notes[0].pk)):
        response = signed_in(applicant).post(reverse("portal:notifications"), {"id": value})
        assert response.status_code == 400, value
        assert "a notification number is not valid" in response.content.decode()

    assert Notification.objects.filter(user=applicant, read_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/cases/{case}/",
        "/api/v1/cases/{case}/letters/",
        "/api/v1/records/{record}/",
        "/api/v1/tasks/{task}/",
    ],
)
def test_an_api_id_in_another_scripts_digits_is_not_found(filed, record, staff, address):
    task = flow.open_task(filed, "acceptance_check")
    ids = {"case": arabic(filed.pk), "record": arabic(record.pk), "task": arabic(task.pk)}
    client = api(staff["intake"])
    assert (
        client.get(address.format(case=filed.pk, record=record.pk, task=task.pk)).status_code == 200
    )

    response = client.get(address.format(**ids))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_ids_in_a_body_or_a_filter_in_another_scripts_digits_are_refused(
    filed, record, applicant, staff, company, agency, platforms
):
    other = restorable_record(company, agency, platforms)
    filing = api(applicant).post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": company.code,
            "record_ids": [arabic(other.pk)],
            "grounds": "Paid.",
        },
        format="json",
    )
    tasks = api(staff["intake"]).get("/api/v1/tasks/", {"case": arabic(filed.pk)})

    assert filing.status_code == 400
    assert filing.json()["field"] == "record_ids"
    assert Case.objects.count() == 1
    assert tasks.status_code == 400
    assert tasks.json()["field"] == "case"


def test_the_route_refuses_a_task_number_in_another_scripts_digits(filed):
    task = flow.open_task(filed, "acceptance_check")
    with pytest.raises(InvalidInput) as refused:
        route.task_get(arabic(task.pk))
    assert refused.value.field == "task"


def test_a_page_number_too_large_for_the_database_shows_the_first_page(filed, staff):
    client = signed_in(staff["supervisor"])
    for address in ("workflows:inbox", "workflows:queue", "workflows:cases"):
        response = client.get(reverse(address), {"page": "9" * 40})
        assert response.status_code == 200, address
        assert client.get(reverse(address), {"page": "²"}).status_code == 200


def test_a_supervisor_cannot_name_an_officer_in_another_scripts_digits(filed, staff, agency):
    task = flow.open_task(filed, "acceptance_check")
    other = factories.officer(Role.INTAKE, agency, "intake-2")

    signed_in(staff["supervisor"]).post(
        reverse("workflows:task_assign", args=[task.pk]), {"assignee": arabic(other.pk)}
    )

    task.refresh_from_db()
    assert task.owner_id is None
