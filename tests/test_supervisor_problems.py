"""A supervisor sees what the machines gave up on, and sends or renders it again."""

import pytest
from django.urls import reverse
from django.utils import timezone

from documents.models import Letter
from documents.services import letter_fail
from notifications.models import Message
from tests import factories
from tests.flow_helpers import accept, file_objection

PAGE = "workspace:agency_problems"


@pytest.fixture
def record(company, agency, platforms):
    return factories.RecordFactory(
        subject=company,
        agency=agency,
        published_on=platforms,
        listed_on=timezone.localdate() - timezone.timedelta(days=10),
    )


@pytest.fixture
def accepted_case(company, record, applicant, staff):
    return accept(file_objection(company, [record], applicant), staff["intake"])


def give_up(message: Message) -> Message:
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.DEAD, attempts=8, last_error="DeliveryFailed: HTTP 500"
    )
    message.refresh_from_db()
    return message


def test_a_supervisor_sees_a_dead_message_and_a_failed_letter_of_the_agency(
    client, staff, accepted_case
):
    dead = give_up(accepted_case.messages.first())
    letter = Letter.objects.get(case=accepted_case, kind=Letter.Kind.ACCEPTANCE)
    letter_fail(letter, error="RuntimeError: font cache unreadable")

    client.force_login(staff["supervisor"])
    page = client.get(reverse(PAGE)).content.decode()

    assert f'data-message="{dead.pk}"' in page
    assert "DeliveryFailed: HTTP 500" in page
    assert f'data-letter="{letter.pk}"' in page
    assert "font cache unreadable" in page


def test_sending_a_dead_message_again_queues_it_and_says_so_on_the_timeline(
    client, staff, accepted_case
):
    dead = give_up(accepted_case.messages.first())
    client.force_login(staff["supervisor"])

    response = client.post(reverse("workspace:message_retry", args=[dead.pk]), follow=True)

    dead.refresh_from_db()
    assert dead.status == Message.Status.PENDING
    assert dead.attempts == 0
    assert "queued again" in response.content.decode()
    assert accepted_case.events.filter(kind="notification_retried").exists()


def test_rendering_a_failed_letter_again_puts_it_back_in_the_queue(client, staff, accepted_case):
    letter = Letter.objects.get(case=accepted_case, kind=Letter.Kind.ACCEPTANCE)
    letter_fail(letter, error="RuntimeError: boom")
    client.force_login(staff["supervisor"])

    client.post(reverse("workspace:letter_retry", args=[letter.pk]), {"next": reverse(PAGE)})

    letter.refresh_from_db()
    assert letter.status == Letter.Status.PENDING


def test_only_supervisors_open_the_page_and_only_for_their_agency(
    client, staff, accepted_case, other_agency
):
    dead = give_up(accepted_case.messages.first())
    outsider = factories.officer("supervisor", other_agency, username="supervisor-gz")

    client.force_login(staff["case_officer"])
    assert client.get(reverse(PAGE)).status_code == 403

    client.force_login(outsider)
    page = client.get(reverse(PAGE))
    assert page.status_code == 200
    assert f'data-message="{dead.pk}"' not in page.content.decode()
    assert client.post(reverse("workspace:message_retry", args=[dead.pk])).status_code == 404
    dead.refresh_from_db()
    assert dead.status == Message.Status.DEAD
