"""Portal accounts as people use them: sign up, verify the e-mail, sign in; prove the link
to a company, have it confirmed by an officer (the first link) or by a colleague (later
ones); invite a colleague into the company account, revoke an invitation, remove a
colleague or leave.

Pages are driven with Django's test client; mail is read from ``mail.outbox`` once the
outbox's worker has delivered it (``delivered``).
"""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from cases import accounts
from cases.errors import InvalidIdentifier, NotPermitted
from cases.identifiers import validate_uscc
from cases.models import (
    Case,
    Organisation,
    OrganisationInvitation,
    OrganisationMember,
    PortalAccount,
    Representation,
    RepresentationRequest,
    Role,
)
from notifications import tasks
from notifications.models import Message, Notification
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import pdf_bytes, restorable_record
from workflows import actions

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


def delivered() -> list:
    """The mails sent so far: the worker delivers what the outbox holds, as its sweep does
    (the dispatch asked for after a commit never runs inside a test's transaction)."""
    tasks.sweep()
    return mail.outbox


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
    [verification] = delivered()
    assert verification.to == ["li.ming@example.test"]
    assert "within two days" in verification.body

    refused = client.post(reverse("login"), {"username": "li-ming", "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # not before the link is followed
    assert refused.status_code in (200, 429)

    verified = client.get(link_in(verification))
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
    assert delivered() == []


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

    response = client.get(link_in(delivered()[0]))
    client.post(reverse("login"), {"username": "late", "password": PASSWORD})

    assert response.status_code == 409
    assert "This link has expired" in text(response)
    user.refresh_from_db()
    assert not user.is_active
    assert "_auth_user_id" not in client.session

    client.post(url("verification_resend"), {"email": "late@example.test"})
    assert len(delivered()) == 2
    client.get(link_in(delivered()[1]))
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
    [mailed] = delivered()
    link = link_in(mailed)
    wrong_person = as_user(client, stranger).post(link)
    invitation = as_user(client, colleague).get(link)
    accepted = client.post(link)

    assert mailed.to == ["zhao@example.test"]
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
    assert as_user(client, intake).get("/")["Location"] == reverse("workspace:index")


# --- company accounts: removing a member, leaving, revoking an invitation ------------------------
# There is no owner: any member may remove another or revoke an invitation, anyone may
# leave, and the last member stays. What a removed person could see ends with the POST.


def company_account(company, *people) -> Organisation:
    """A company account with ``people`` in it, each a confirmed representative."""
    organisation = Organisation.objects.create(
        name=company.name, subject=company, created_by=people[0]
    )
    for person in people:
        factories.representative(company, person.username)
        OrganisationMember.objects.create(organisation=organisation, user=person)
    return organisation


def day(moment) -> str:
    """A moment as the local date the pages and messages show."""
    return timezone.localtime(moment).date().isoformat()


def refresh_status(case) -> str:
    case.refresh_from_db()
    return case.status


def member_of(organisation, person) -> OrganisationMember:
    return organisation.members.get(user=person)


def api_token_of(username: str) -> APIClient:
    """An API client holding the token ``username`` had before anything changed."""
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": username, "password": "pw"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_removed_colleague_is_refused_the_companys_case_records_and_api_at_once(
    client, company, applicant, record
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    case = flow.file_restoration(company, [record], wang)
    assign_perm("view_case", wang, case)  # a per-case grant must not keep the door open
    wangs_browser, wangs_api = Client(), api_token_of("wang")
    wangs_browser.force_login(wang)
    assert wangs_browser.get(url("case", case.pk)).status_code == 200
    assert [c["id"] for c in wangs_api.get("/api/v1/cases/").json()["results"]] == [case.pk]

    account = text(as_user(client, applicant).get(url("organisation")))
    confirm = client.get(
        url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)
    )
    assert "Remove wang from the account…" in account
    assert "Remove wang from 深圳市示例科技有限公司?" in text(confirm)
    assert '<button type="submit" class="button danger">Remove wang</button>' in text(confirm)
    assert organisation.members.current().filter(user=wang).exists()  # asking changes nothing

    removed = client.post(
        url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk),
        follow=True,
    )

    assert removed.redirect_chain[-1][0] == url("organisation")
    assert "wang no longer acts for 深圳市示例科技有限公司: their access ended at once." in text(
        removed
    )
    assert wangs_browser.get(url("case", case.pk)).status_code == 404
    assert wangs_browser.get(url("withdraw", case.pk)).status_code == 404
    assert record.decision_no not in text(wangs_browser.get(url("records")))
    assert case.reference not in text(wangs_browser.get(url("cases")))
    assert wangs_api.get("/api/v1/cases/").json()["results"] == []
    assert wangs_api.get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert wangs_api.get("/api/v1/records/").json()["results"] == []
    assert "Prove a link to a subject" in text(wangs_browser.get(url("organisation")))
    told = delivered()[-1]
    assert told.to == ["wang@example.test"]
    assert "acme removed you from the company account" in told.body
    # The colleagues go on with the case; the removal is on record, by whom and when.
    assert client.get(url("case", case.pk)).status_code == 200
    former = member_of(organisation, wang)
    assert former.removed_by == applicant and former.removed_at is not None
    assert f"removed by acme on {day(former.removed_at)}" in text(client.get(url("organisation")))


def test_the_case_of_a_removed_colleague_is_written_to_the_company_that_remains(
    client, company, applicant, record, staff
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    case = flow.file_restoration(company, [record], wang)
    as_user(client, applicant).post(
        url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)
    )
    mail.outbox.clear()

    flow.accept(case, staff["intake"])

    accepted = Notification.objects.filter(case=case, kind="accepted")
    assert [n.user for n in accepted] == [applicant]  # not the person who left
    assert not Message.objects.filter(case=case, kind="accepted", recipient_user=wang).exists()
    assert Message.objects.filter(case=case, kind="accepted", recipient_user=applicant).exists()
    with pytest.raises(NotPermitted):  # nor may they act on it, by any path
        actions.case_withdraw(case=case, applicant=wang, reason="Leaving anyway.")
    assert refresh_status(case) == Case.Status.UNDER_REVIEW


def test_removing_a_colleague_twice_says_they_are_already_gone_and_changes_nothing_more(
    client, company, applicant, record
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    address = url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)
    as_user(client, applicant).post(address)
    first = member_of(organisation, wang)
    mails = len(delivered())

    again = client.post(address)

    assert again.status_code == 409
    assert (
        "wang was already removed from the company account of 深圳市示例科技有限公司 "
        f"on {day(first.removed_at)}." in text(again)
    )
    assert "button danger" not in text(again)
    again_row = member_of(organisation, wang)
    assert (again_row.removed_at, again_row.removed_by) == (first.removed_at, applicant)
    assert len(delivered()) == mails
    assert organisation.members.current().get().user == applicant


def test_the_last_representative_cannot_leave_or_be_removed(client, company, applicant, record):
    organisation = company_account(company, applicant)
    address = url(
        "organisation_member_remove", organisation.pk, member_of(organisation, applicant).pk
    )

    account = text(as_user(client, applicant).get(url("organisation")))
    asked = client.get(address)
    refused = client.post(address)

    assert "You are the only representative: invite a colleague" in account
    assert "Leave the company account…" not in account
    assert "always keeps at least one representative" in text(asked)
    assert "button danger" not in text(asked)
    assert refused.status_code == 409
    assert "You are the last representative in the company account" in text(refused)
    assert organisation.members.current().get().user == applicant
    assert record.decision_no in text(client.get(url("records")))


def test_a_representative_may_leave_and_sees_the_company_no_more(
    client, company, applicant, record
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    address = url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)

    assert "Leave the company account…" in text(as_user(client, wang).get(url("organisation")))
    left = client.post(address, follow=True)
    twice = client.post(address)

    assert left.redirect_chain[-1][0] == url("index")
    assert "You left the company account" in text(left)
    assert record.decision_no not in text(client.get(url("records")))
    assert twice.status_code == 409
    assert "You are no longer in the company account of 深圳市示例科技有限公司" in text(twice)
    account = text(as_user(client, applicant).get(url("organisation")))
    assert f"left on {day(member_of(organisation, wang).removed_at)}" in account
    assert len(delivered()) == 0  # nobody to tell: they left themselves


def test_a_revoked_invitation_says_so_and_accepting_it_does_nothing(
    client, company, applicant, record
):
    organisation = company_account(company, applicant)
    zhao = factories.UserFactory(username="zhao", email="zhao@example.test")
    as_user(client, applicant).post(
        url("organisation_invite", organisation.pk), {"email": "zhao@example.test"}
    )
    link = link_in(delivered()[0])
    invitation = organisation.invitations.get()
    address = url("organisation_invitation_revoke", organisation.pk, invitation.pk)
    assert "Revoke the invitation to zhao@example.test…" in text(client.get(url("organisation")))
    assert "Revoke the invitation to zhao@example.test?" in text(client.get(address))

    revoked = client.post(address, follow=True)
    twice = client.post(address)
    opened = as_user(client, zhao).get(link)
    accepted = client.post(link)

    assert "The invitation to zhao@example.test is revoked: its link no longer works." in text(
        revoked
    )
    assert "zhao@example.test" not in text(as_user(client, applicant).get(url("organisation")))
    assert twice.status_code == 409
    assert "The invitation to zhao@example.test was already revoked on" in text(twice)
    for response in (opened, accepted):
        assert response.status_code == 409
        assert "This invitation was revoked by the company" in text(response)
        assert "Accept the invitation" not in text(response)
    assert not Representation.objects.filter(user=zhao).exists()
    assert not organisation.members.filter(user=zhao).exists()
    assert record.decision_no not in text(as_user(client, zhao).get(url("records")))


def test_an_accepted_invitation_cannot_be_revoked(client, company, applicant):
    organisation = company_account(company, applicant)
    zhao = factories.UserFactory(username="zhao", email="zhao@example.test")
    as_user(client, applicant).post(
        url("organisation_invite", organisation.pk), {"email": "zhao@example.test"}
    )
    as_user(client, zhao).post(link_in(delivered()[0]))
    invitation = organisation.invitations.get()

    refused = as_user(client, applicant).post(
        url("organisation_invitation_revoke", organisation.pk, invitation.pk)
    )

    assert refused.status_code == 409
    assert "already accepted: to take the access away, remove the person" in text(refused)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    assert organisation.members.current().filter(user=zhao).exists()


def test_a_member_of_another_company_cannot_remove_or_revoke(
    client, company, applicant, agency, platforms
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    invitation = OrganisationInvitation.objects.create(
        organisation=organisation, email="zhao@example.test", invited_by=applicant
    )
    rival = factories.SubjectFactory(name="深圳市竞争对手有限公司")
    restorable_record(rival, agency, platforms)
    outsider = factories.UserFactory(username="outsider")
    rivals = company_account(rival, outsider)
    remove_wang = url(
        "organisation_member_remove", organisation.pk, member_of(organisation, wang).pk
    )
    revoke = url("organisation_invitation_revoke", organisation.pk, invitation.pk)
    # The outsider's own account id with this company's member: still not theirs.
    through_own = url("organisation_member_remove", rivals.pk, member_of(organisation, wang).pk)
    as_user(client, outsider)

    assert client.get(remove_wang).status_code == 404
    assert client.post(remove_wang).status_code == 404
    assert client.post(through_own).status_code == 404
    assert client.get(revoke).status_code == 404
    assert client.post(revoke).status_code == 404
    assert (
        client.post(
            url("organisation_invite", organisation.pk), {"email": "x@example.test"}
        ).status_code
        == 404
    )
    assert organisation.members.current().count() == 2
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_removal_happens_only_on_a_post_with_the_csrf_token(company, applicant):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    address = url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(applicant)

    page = browser.get(address)
    forged = browser.post(address)

    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in text(page)
    assert forged.status_code == 403
    assert organisation.members.current().filter(user=wang).exists()


def test_removal_revokes_the_open_invitations_they_sent_and_a_new_one_brings_them_back(
    client, company, applicant, record
):
    wang = factories.UserFactory(username="wang")
    organisation = company_account(company, applicant, wang)
    as_user(client, wang).post(
        url("organisation_invite", organisation.pk), {"email": "zhao@example.test"}
    )
    sent_by_wang = organisation.invitations.get()
    as_user(client, applicant).post(
        url("organisation_member_remove", organisation.pk, member_of(organisation, wang).pk)
    )
    sent_by_wang.refresh_from_db()
    assert sent_by_wang.revoked_by == applicant

    client.post(url("organisation_invite", organisation.pk), {"email": "wang@example.test"})
    as_user(client, wang).post(link_in(delivered()[-1]))

    assert record.decision_no in text(client.get(url("records")))
    stays = organisation.members.filter(user=wang).order_by("joined_at", "id")
    assert [m.is_current for m in stays] == [False, True]  # each stay in the account on record


def test_the_portal_reads_link_requests_through_the_selectors(company, applicant, agency, record):
    from cases import selectors

    person = factories.UserFactory(username="li-ming")
    intake = factories.officer(Role.INTAKE, agency)
    request = RepresentationRequest.objects.create(
        user=person, subject=company, proof_name="a.pdf", proof_sha256="0" * 64, proof_size=1
    )

    assert list(selectors.representation_requests_of(person)) == [request]
    assert list(selectors.representation_requests_to_decide(applicant)) == [request]
    assert list(selectors.representation_requests_to_decide(intake)) == [request]
    assert list(selectors.representation_requests_to_decide(person)) == []
    assert not selectors.representation_requests_to_decide(applicant).get().is_first_link


@pytest.mark.postgres
def test_two_colleagues_removing_each_other_at_once_leave_one_of_them_in(postgres_only, company):
    from tests.test_concurrency import race

    acme, wang = factories.UserFactory(username="acme"), factories.UserFactory(username="wang")
    organisation = company_account(company, acme, wang)

    def removing(person, by):
        def contender(start):
            member = member_of(organisation, person)
            start()
            return accounts.organisation_member_remove(member=member, by=by)

        return contender

    outcomes = race(removing(wang, acme), removing(acme, wang))

    assert sorted(kind for kind, _result in outcomes) == ["error", "ok"]
    refused = next(result for kind, result in outcomes if kind == "error")
    assert isinstance(refused, NotPermitted)
    assert organisation.members.current().count() == 1
    assert Representation.objects.filter(subject=company, confirmed_at__isnull=False).count() == 1


@pytest.mark.django_db
def test_the_login_page_links_sign_up_and_the_accessibility_statement(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("portal:signup")}"' in page
    assert f'href="{reverse("portal:accessibility")}"' in page
