"""Portal accounts as people use them: sign up, verify the e-mail, sign in; prove the link
to a company, have it confirmed by an officer (the first link) or by a colleague (later
ones); invite a colleague into the company account.

Pages are driven with Django's test client; mail is read from ``mail.outbox``.
"""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from cases.errors import InvalidIdentifier
from cases.identifiers import validate_uscc
from cases.models import (
    Organisation,
    OrganisationMember,
    PortalAccount,
    Representation,
    RepresentationRequest,
    Role,
)
from tests import factories
from tests.helpers import pdf_bytes, restorable_record

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "Harbour-lantern-742"  # passes Django's validators


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    """Proofs of authorisation land in a throw-away store per test."""
    storage = RepresentationRequest._meta.get_field("proof").storage
    monkeypatch.setattr(storage, "location", str(tmp_path))
    return tmp_path


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


def url(name, *args) -> str:
    return reverse(f"portal:{name}", args=args)


def text(response) -> str:
    return response.content.decode()


def as_user(client, user):
    client.force_login(user)
    return client


def proof(name="authorisation.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes("authorisation"), content_type="application/pdf")


def link_requested(client, user, subject) -> RepresentationRequest:
    """``user`` proves their link to ``subject`` with its code and a letter of authorisation."""
    as_user(client, user)
    response = client.post(
        url("link_request"),
        {
            "kind": subject.kind,
            "code": subject.code,
            "proof": proof(),
            "note": "Legal representative",
        },
    )
    assert response.status_code == 302, text(response)
    return RepresentationRequest.objects.get(user=user, subject=subject)


def decide(client, user, request, decision="confirm", reason=""):
    as_user(client, user)
    return client.post(
        url("representation_decide", request.pk), {"decision": decision, "reason": reason}
    )


def link_in(message) -> str:
    return re.search(r"http://testserver(/portal/\S+/)", message.body).group(1)


# --- sign-up, verification, sign-in -----------------------------------------------------------------


def test_a_person_signs_up_verifies_the_mail_and_lands_on_the_portal_after_signing_in(client):
    form = client.get(url("signup"))
    response = client.post(
        url("signup"),
        {
            "username": "li-ming",
            "email": "li.ming@example.test",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "language": "en",
        },
    )

    assert form.status_code == 200
    for field in ("username", "email", "password1", "password2", "language"):
        assert f'<label for="id_{field}"' in text(form)
    assert response["Location"] == url("signup_done")
    user = User.objects.get(username="li-ming")
    assert not user.is_active
    assert PortalAccount.objects.get(user=user).language == "en"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li.ming@example.test"]
    assert "within two days" in mail.outbox[0].body

    refused = client.post(reverse("login"), {"username": "li-ming", "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # not before the link is followed
    assert refused.status_code in (200, 429)

    verified = client.get(link_in(mail.outbox[0]))
    user.refresh_from_db()
    assert verified.status_code == 200
    assert "your e-mail address is verified" in text(verified)
    assert user.is_active
    assert PortalAccount.objects.get(user=user).email_verified_at is not None

    signed_in = client.post(
        reverse("login"), {"username": "li-ming", "password": PASSWORD}, follow=True
    )
    assert signed_in.redirect_chain[-1][0] == url("index")
    assert "Prove a link to a subject" in text(signed_in)


def test_sign_up_applies_djangos_password_validators_and_sends_nothing(client):
    response = client.post(
        url("signup"),
        {
            "username": "weak",
            "email": "weak@example.test",
            "password1": "password",
            "password2": "password",
            "language": "zh-hans",
        },
    )

    assert response.status_code == 400
    assert "This password is too common." in text(response)
    assert not User.objects.filter(username="weak").exists()
    assert mail.outbox == []


def test_an_unverified_account_cannot_sign_in_and_an_expired_link_does_not_activate(client):
    two_days_and_an_hour_ago = time.time() - (2 * 24 + 1) * 3600
    with mock.patch("django.core.signing.time.time", return_value=two_days_and_an_hour_ago):
        client.post(
            url("signup"),
            {
                "username": "late",
                "email": "late@example.test",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "language": "en",
            },
        )
    user = User.objects.get(username="late")

    response = client.get(link_in(mail.outbox[0]))
    client.post(reverse("login"), {"username": "late", "password": PASSWORD})

    assert response.status_code == 409
    assert "This link has expired" in text(response)
    user.refresh_from_db()
    assert not user.is_active
    assert "_auth_user_id" not in client.session

    client.post(url("verification_resend"), {"email": "late@example.test"})
    assert len(mail.outbox) == 2
    client.get(link_in(mail.outbox[1]))
    user.refresh_from_db()
    assert user.is_active


# --- proving the link to a subject -------------------------------------------------------------------


def test_a_link_confirmed_by_an_officer_opens_the_subjects_records(
    client, company, agency, other_agency, record
):
    person = factories.UserFactory(username="li-ming")
    intake = factories.officer(Role.INTAKE, agency)
    elsewhere = factories.officer(Role.SUPERVISOR, other_agency)
    case_officer = factories.officer(Role.CASE_OFFICER, agency)

    request = link_requested(client, person, company)
    before = text(client.get(url("records")))

    assert not Representation.objects.get(user=person, subject=company).is_confirmed
    assert record.decision_no not in before
    assert "Waiting for confirmation" in text(client.get(url("index")))

    queue = text(as_user(client, intake).get(url("officer_representations")))
    assert "li-ming" in queue and "First link of this subject" in queue
    assert client.get(url("representation_proof", request.pk)).status_code == 200
    assert "li-ming" not in text(as_user(client, elsewhere).get(url("officer_representations")))
    assert decide(client, elsewhere, request).status_code == 404
    assert as_user(client, case_officer).get(url("officer_representations")).status_code == 403

    decide(client, intake, request)

    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.CONFIRMED
    assert request.decided_as == Role.INTAKE
    assert Representation.objects.get(user=person, subject=company).confirmed_by == intake
    organisation = Organisation.objects.get(subject=company)
    assert list(organisation.members.values_list("user__username", flat=True)) == ["li-ming"]
    assert record.decision_no in text(as_user(client, person).get(url("records")))


def test_the_code_is_checked_with_the_identifier_message_and_the_proof_by_its_content(
    client, company, record
):
    person = factories.UserFactory(username="li-ming")
    wrong = company.code[:17] + ("1" if company.code[17] != "1" else "2")
    with pytest.raises(InvalidIdentifier) as expected:
        validate_uscc(wrong)
    as_user(client, person)

    bad_code = client.post(url("link_request"), {"kind": "legal", "code": wrong, "proof": proof()})
    executable = SimpleUploadedFile("letter.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64)
    bad_proof = client.post(
        url("link_request"), {"kind": "legal", "code": company.code, "proof": executable}
    )

    assert bad_code.status_code == 400
    assert escape(expected.value.message) in text(bad_code)
    assert bad_proof.status_code == 400
    assert "Only PDF, PNG and JPEG files are accepted" in text(bad_proof)
    assert not Representation.objects.filter(user=person).exists()
    assert not RepresentationRequest.objects.exists()


def test_a_second_representative_of_the_company_is_confirmed_by_the_first(
    client, company, applicant, record, agency, platforms
):
    colleague = factories.UserFactory(username="wang")
    other_company = factories.SubjectFactory()
    restorable_record(other_company, agency, platforms)
    outsider = factories.representative(other_company, "outsider")

    request = link_requested(client, colleague, company)
    assert record.decision_no not in text(client.get(url("records")))

    assert decide(client, outsider, request).status_code == 404  # not their subject
    page = text(as_user(client, applicant).get(url("organisation")))
    assert "wang" in page and url("representation_decide", request.pk) in page
    decide(client, applicant, request)

    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.CONFIRMED
    assert request.decided_as == "representative"
    members = OrganisationMember.objects.filter(organisation__subject=company)
    assert set(members.values_list("user__username", flat=True)) == {"acme", "wang"}
    assert record.decision_no in text(as_user(client, colleague).get(url("records")))


def test_a_rejected_link_says_why_and_shows_nothing(client, company, agency, record):
    person = factories.UserFactory(username="li-ming")
    intake = factories.officer(Role.INTAKE, agency)
    request = link_requested(client, person, company)

    without_reason = decide(client, intake, request, decision="reject")
    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.PENDING
    assert without_reason.status_code == 302

    decide(client, intake, request, decision="reject", reason="The letter carries no seal.")

    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.REJECTED
    assert not Representation.objects.filter(user=person).exists()
    overview = text(as_user(client, person).get(url("index")))
    assert "Rejected" in overview and "The letter carries no seal." in overview
    assert record.decision_no not in text(client.get(url("records")))


def test_a_representative_invites_a_colleague_who_accepts_with_the_invited_address(
    client, company, applicant, record
):
    organisation = Organisation.objects.create(
        name=company.name, subject=company, created_by=applicant
    )
    OrganisationMember.objects.create(organisation=organisation, user=applicant)
    colleague = factories.UserFactory(username="zhao", email="zhao@example.test")
    stranger = factories.UserFactory(username="stranger", email="stranger@example.test")

    as_user(client, applicant).post(
        url("organisation_invite", organisation.pk), {"email": "zhao@example.test"}
    )
    link = link_in(mail.outbox[0])
    wrong_person = as_user(client, stranger).post(link)
    invitation = as_user(client, colleague).get(link)
    accepted = client.post(link)

    assert mail.outbox[0].to == ["zhao@example.test"]
    assert wrong_person.status_code == 403
    assert "This invitation is for zhao@example.test" in text(wrong_person)
    assert company.name in text(invitation)
    assert accepted["Location"] == url("records")
    assert Representation.objects.get(user=colleague, subject=company).confirmed_by == applicant
    assert organisation.members.filter(user=colleague).exists()
    assert record.decision_no in text(client.get(url("records")))


def test_home_sends_an_entity_to_the_portal_and_an_officer_to_the_workspace(
    client, applicant, agency
):
    intake = factories.officer(Role.INTAKE, agency)

    assert as_user(client, applicant).get("/")["Location"] == url("index")
    assert as_user(client, intake).get("/")["Location"] == reverse("workflows:index")
