"""Who may see and do what, everywhere: every role against every page and endpoint.

The world: two companies (A and B), each with a representative; agency X (Shenzhen)
with one officer per role and an auditor; agency Y (Guangzhou) with an officer and an
auditor; an insider who represents company A and holds intake, signing and supervisor
roles at X (the outside test's attacker: APL Art. 43 bars them from A's cases, not from
B's); a signing official of Y; an administrator with no agency; and anonymous visitors.
Three cases, each at its acceptance check with evidence and an issued letter:

* ``A@X``: company A's case at agency X;
* ``B@X``: company B's case at agency X (for A: another entity's);
* ``B@Y``: company B's case at agency Y (for X: another agency's).

and beside each, an approved restoration of the same company at the same agency (the
records withdrawn from the platforms), for revoking.

Each test is one role at one page or endpoint, tried on all three cases, and asserts
the status code for each: what the role may see answers 200 (or does the thing), what
it may see but not change answers 403, what it may not see answers 404, exactly as
for something that does not exist. The last part checks that the API's lists filter in
the database: their query count does not grow with rows, and none runs a COUNT.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import (
    Case,
    Deadline,
    Evidence,
    Membership,
    Organisation,
    OrganisationInvitation,
    OrganisationMember,
    Revocation,
    Role,
)
from documents.codes import verification_code_new
from documents.models import Letter
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, pdf_bytes, restorable_record
from workflows import actions

TARGETS = ("A@X", "B@X", "B@Y")

X_OFFICERS = ("intake_x", "case_officer_x", "legal_x", "signer_x", "supervisor_x")
X_MEMBERS = (*X_OFFICERS, "insider_x", "auditor_x")
Y_MEMBERS = ("officer_y", "signer_y", "auditor_y")
ENTITIES = ("entity_a", "entity_b")
ROLES = (
    "anonymous",
    *ENTITIES,
    *X_OFFICERS,
    "insider_x",
    "officer_y",
    "signer_y",
    "auditor_x",
    "auditor_y",
    "admin",
)

# Who acts for which company, who works at (or audits) which agency.
SUBJECT_OF = {"entity_a": "A", "entity_b": "B", "insider_x": "A"}
AGENCY_OF = {**dict.fromkeys(X_MEMBERS, "X"), **dict.fromkeys(Y_MEMBERS, "Y")}
# Who holds the acceptance check's role (intake) at which agency.
INTAKE_AT = {"intake_x": "X", "officer_y": "Y", "insider_x": "X"}
SUPERVISOR_AT = {"supervisor_x": "X", "insider_x": "X"}
# Who holds the signing role (and so may revoke an approved restoration) at which agency.
SIGNER_AT = {"signer_x": "X", "insider_x": "X", "signer_y": "Y"}
# Officers with a tie to a company: no officer's action on its cases (APL Art. 43).
TIED_TO = {"insider_x": "A"}
# Who reads an agency's figures (issue 17): its supervisors and its auditors.
FIGURES_OF = {**SUPERVISOR_AT, "auditor_x": "X", "auditor_y": "Y"}


def subject(target: str) -> str:
    return target.split("@")[0]


def agency(target: str) -> str:
    return target.split("@")[1]


def sees(role: str, target: str) -> bool:
    """An entity sees its subjects' cases; an officer or auditor their agency's."""
    return SUBJECT_OF.get(role) == subject(target) or AGENCY_OF.get(role) == agency(target)


def tied(role: str, target: str) -> bool:
    """Whether ``role`` has a tie to the subject of ``target`` (and so is barred from it)."""
    return TIED_TO.get(role) == subject(target)


def acts_for(role: str, target: str) -> bool:
    return SUBJECT_OF.get(role) == subject(target)


def member_of_agency(role: str, target: str) -> bool:
    return AGENCY_OF.get(role) == agency(target)


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    users: dict
    cases: dict
    records: dict  # the records of each case
    free_records: dict  # a record of the same subject and agency, in no case yet
    evidence: dict
    letters: dict
    organisations: dict  # each company's account ("A", "B")
    colleagues: dict  # a second member of each account (its membership row)
    invitations: dict  # a pending invitation of each account
    approved: dict  # an approved restoration beside each case, for revoking

    def task(self, target: str):
        return flow.open_task(self.cases[target], "acceptance_check")


def _letter(case: Case) -> Letter:
    """An issued letter with a stored (placeholder) PDF: what the endpoints read."""
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
        sha256="0" * 64,
        size=9,
    )
    letter.pdf.save(f"{case.reference}/{letter.file_name}", ContentFile(b"%PDF-1.4\n"), save=False)
    letter.save()
    return letter


def _build_world() -> World:
    platforms = [
        factories.PlatformFactory(code="creditchina", name="信用中国"),
        factories.PlatformFactory(code="gsxt", name="国家企业信用信息公示系统"),
    ]
    x = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局", region_code="440300")
    y = factories.AgencyFactory(code="GZAMR", name="广州市市场监督管理局", region_code="440100")
    agencies = {"X": x, "Y": y}
    companies = {"A": factories.SubjectFactory(), "B": factories.SubjectFactory()}
    users = {
        "anonymous": None,
        "entity_a": factories.representative(companies["A"], "entity-a"),
        "entity_b": factories.representative(companies["B"], "entity-b"),
        "intake_x": factories.officer(Role.INTAKE, x, "intake-x"),
        "case_officer_x": factories.officer(Role.CASE_OFFICER, x, "case-officer-x"),
        "legal_x": factories.officer(Role.LEGAL_REVIEWER, x, "legal-x"),
        "signer_x": factories.officer(Role.SIGNER, x, "signer-x"),
        "supervisor_x": factories.officer(Role.SUPERVISOR, x, "supervisor-x"),
        "officer_y": factories.officer(Role.INTAKE, y, "officer-y"),
        "signer_y": factories.officer(Role.SIGNER, y, "signer-y"),
        "auditor_x": factories.officer(Role.AUDITOR, x, "auditor-x"),
        "auditor_y": factories.officer(Role.AUDITOR, y, "auditor-y"),
        "insider_x": factories.representative(companies["A"], "insider-x"),
        "admin": get_user_model().objects.create_superuser("admin", "admin@example.test", "pw"),
    }
    for role in (Role.INTAKE, Role.SIGNER, Role.SUPERVISOR):
        Membership.objects.create(user=users["insider_x"], agency=x, role=role)
    organisations, colleagues, invitations = {}, {}, {}
    for key, company in companies.items():
        entity = users[f"entity_{key.lower()}"]
        organisation = Organisation.objects.create(
            name=company.name, subject=company, created_by=entity
        )
        OrganisationMember.objects.create(organisation=organisation, user=entity)
        colleague = factories.representative(company, f"colleague-{key.lower()}")
        organisations[key] = organisation
        colleagues[key] = OrganisationMember.objects.create(
            organisation=organisation, user=colleague
        )
        invitations[key] = OrganisationInvitation.objects.create(
            organisation=organisation, email=f"new-{key.lower()}@example.test", invited_by=entity
        )
    cases, records, free, evidence, letters, approved = {}, {}, {}, {}, {}, {}
    # Who takes each agency's approved restorations through the route (not roles tried).
    route = {
        "X": (users["intake_x"], users["case_officer_x"], users["signer_x"]),
        "Y": (
            users["officer_y"],
            factories.officer(Role.CASE_OFFICER, y, "case-officer-y"),
            users["signer_y"],
        ),
    }
    for target in TARGETS:
        company, where = companies[subject(target)], agencies[agency(target)]
        applicant = users[f"entity_{subject(target).lower()}"]
        record = restorable_record(company, where, platforms)
        case = flow.file_restoration(company, [record], applicant)
        cases[target], records[target] = case, record
        free[target] = restorable_record(company, where)
        evidence[target] = case.evidence.order_by("id").first()
        letters[target] = _letter(case)
        intake, reviewer, signer = route[agency(target)]
        done = flow.file_restoration(
            company, [restorable_record(company, where, platforms)], applicant
        )
        flow.accept(done, intake)
        flow.review(done, reviewer, flow.APPROVED)
        approved[target] = flow.sign(done, signer, flow.APPROVED)
        # Order 36 Art. 25's revocation terms, so that a signer may propose a revocation.
        flow.revocation_rules(approved[target], publication_months=36, bar_months=36)
    return World(
        users,
        cases,
        records,
        free,
        evidence,
        letters,
        organisations,
        colleagues,
        invitations,
        approved,
    )


@pytest.fixture(scope="module")
def _world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world, built once per module inside a transaction that is rolled back at its end.

    Each test runs in a savepoint of its own inside it (pytest-django's ``db``), so what
    one test does (a claim, a withdrawal) is undone before the next one.
    """
    files = tmp_path_factory.mktemp("matrix-files")
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        for alias in ("evidence", "letters"):
            (files / alias).mkdir()
            patch.setattr(storages[alias], "location", str(files / alias))
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(_world, db) -> World:
    return _world


def api(world: World, role: str) -> APIClient:
    client = APIClient()
    user = world.users[role]
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def browser(world: World, role: str) -> Client:
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


# --- the API: one target at a time ---------------------------------------------------------------


def _read_expectation(role, target, *, officers_only=False):
    if role == "anonymous":
        return 401
    if officers_only and role not in AGENCY_OF:
        return 404
    return 200 if sees(role, target) else 404


def _applicant_action(role, target, *, done):
    """An action for the applicant's side: the subject's representative does it."""
    if role == "anonymous":
        return 401
    if not sees(role, target):
        return 404
    return done if acts_for(role, target) else 403  # officers and auditors may only read


def _claim(role, target):
    if role == "anonymous":
        return 401
    if not member_of_agency(role, target):
        return 404  # entities, the admin, another agency: the task does not exist for them
    if tied(role, target):
        return 403  # conflict_of_interest
    return 200 if INTAKE_AT.get(role) == agency(target) else 403


def _release(role, target):
    if role == "anonymous":
        return 401
    if not member_of_agency(role, target):
        return 404
    owner = role == ("intake_x" if agency(target) == "X" else "officer_y")
    supervisor = SUPERVISOR_AT.get(role) == agency(target) and not tied(role, target)
    return 200 if owner or supervisor else 403


def _file(role, target):
    if role == "anonymous":
        return 401
    return 201 if SUBJECT_OF.get(role) == subject(target) else 400


def _do_file(world, client, target):
    record = world.free_records[target]
    return client.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": record.subject.code,
            "record_ids": [record.pk],
            "grounds": "Paid and corrected.",
        },
        format="json",
    )


def _do_evidence(world, client, target):
    upload = SimpleUploadedFile("more.pdf", pdf_bytes(target), "application/pdf")
    return client.post(
        f"/api/v1/cases/{world.cases[target].pk}/evidence/",
        {"file": upload, "material": "other", "description": "More."},
        format="multipart",
    )


def _do_complete(world, client, target, role):
    task = world.task(target)
    if _claim(role, target) == 200:
        actions.task_claim(task=task, user=world.users[role])
    return client.post(
        f"/api/v1/tasks/{task.pk}/complete/",
        {"decision": "accept", "note": "Complete."},
        format="json",
    )


def _revoke(role, target, *, done=200):
    """A signing official of the case's agency with no tie to its subject proposes; anyone
    else who sees the case is refused (403), anyone who does not gets 404."""
    if role == "anonymous":
        return 401
    if not sees(role, target):
        return 404
    return done if SIGNER_AT.get(role) == agency(target) and not tied(role, target) else 403


def _revocation(target) -> dict:
    return {
        "ground": "untrue_commitment",
        "reasons": "The commitment letter was untrue.",
        "evidence": [SimpleUploadedFile("proof.pdf", pdf_bytes(target), "application/pdf")],
    }


def _do_revoke(world, client, target):
    return client.post(
        f"/api/v1/cases/{world.approved[target].pk}/revoke/",
        _revocation(target),
        format="multipart",
    )


def _do_release(world, client, target, role):
    task = world.task(target)
    owner = world.users["intake_x" if agency(target) == "X" else "officer_y"]
    actions.task_claim(task=task, user=owner)
    return client.post(f"/api/v1/tasks/{task.pk}/release/")


API_ENDPOINTS = {
    "GET record": (
        lambda w, c, t, r: c.get(f"/api/v1/records/{w.records[t].pk}/"),
        _read_expectation,
    ),
    "GET case": (
        lambda w, c, t, r: c.get(f"/api/v1/cases/{w.cases[t].pk}/"),
        _read_expectation,
    ),
    "GET case letters": (
        lambda w, c, t, r: c.get(f"/api/v1/cases/{w.cases[t].pk}/letters/"),
        _read_expectation,
    ),
    "GET letter": (
        lambda w, c, t, r: c.get(f"/api/v1/cases/{w.cases[t].pk}/letters/{w.letters[t].pk}/"),
        _read_expectation,
    ),
    "GET letter pdf": (
        lambda w, c, t, r: c.get(f"/api/v1/cases/{w.cases[t].pk}/letters/{w.letters[t].pk}/pdf/"),
        _read_expectation,
    ),
    "GET task": (
        lambda w, c, t, r: c.get(f"/api/v1/tasks/{w.task(t).pk}/"),
        lambda role, t: _read_expectation(role, t, officers_only=True),
    ),
    "POST case": (lambda w, c, t, r: _do_file(w, c, t), _file),
    "POST evidence": (
        lambda w, c, t, r: _do_evidence(w, c, t),
        lambda role, t: _applicant_action(role, t, done=201),
    ),
    "POST withdraw": (
        lambda w, c, t, r: c.post(f"/api/v1/cases/{w.cases[t].pk}/withdraw/", {}, format="json"),
        lambda role, t: _applicant_action(role, t, done=200),
    ),
    "POST resubmit": (
        # Nothing was asked for: the applicant's side is told the state is wrong (409).
        lambda w, c, t, r: c.post(f"/api/v1/cases/{w.cases[t].pk}/resubmit/", {}, format="json"),
        lambda role, t: _applicant_action(role, t, done=409),
    ),
    "POST claim": (
        lambda w, c, t, r: c.post(f"/api/v1/tasks/{w.task(t).pk}/claim/"),
        _claim,
    ),
    "POST complete": (lambda w, c, t, r: _do_complete(w, c, t, r), _claim),
    "POST release": (lambda w, c, t, r: _do_release(w, c, t, r), _release),
    "POST revoke": (lambda w, c, t, r: _do_revoke(w, c, t), _revoke),
    "GET metrics": (
        lambda w, c, t, r: c.get(f"/api/v1/metrics/?agency={w.cases[t].agency.code}"),
        lambda role, t: _figures(role, t, anonymous=401),
    ),
}


@pytest.mark.parametrize("endpoint", list(API_ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_api_endpoint(world, role, endpoint):
    call, expectation = API_ENDPOINTS[endpoint]
    client = api(world, role)
    got, expected = {}, {}
    for target in TARGETS:
        response = call(world, client, target, role)
        got[target] = response.status_code
        expected[target] = expectation(role, target)
        if response.status_code >= 400 and response.get("Content-Type") == "application/json":
            body = response.json()
            assert {"code", "message"} <= set(body), (target, body)
    assert got == expected


# --- the API's lists: what each role finds in them -----------------------------------------------


def _ids(response) -> set:
    assert response.status_code == 200, response.status_code
    return {row["id"] for row in response.json()["results"]}


API_LISTS = {
    "records": lambda w, t: w.records[t].pk,
    "cases": lambda w, t: w.cases[t].pk,
    "tasks": lambda w, t: w.task(t).pk,
}


@pytest.mark.parametrize("listing", list(API_LISTS))
@pytest.mark.parametrize("role", ROLES)
def test_api_list(world, role, listing):
    client = api(world, role)
    response = client.get(f"/api/v1/{listing}/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    listed = _ids(response)
    mine = API_LISTS[listing]
    found = {target for target in TARGETS if mine(world, target) in listed}
    if listing == "tasks":
        # Tasks are for those who may take them: intake officers of the case's agency,
        # with no tie to its subject.
        expected = {t for t in TARGETS if INTAKE_AT.get(role) == agency(t) and not tied(role, t)}
    else:
        expected = {t for t in TARGETS if sees(role, t)}
    assert found == expected
    if listing == "records":  # nothing else of anyone else's either
        visible = {world.records[t].pk for t in TARGETS} | {
            world.free_records[t].pk for t in TARGETS
        }
        visible |= {r.pk for t in TARGETS for r in world.approved[t].records.all()}
        assert listed <= visible


def test_the_token_endpoint_is_open_to_anonymous_callers_only_with_credentials(world):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "entity-a", "password": "pw"}, format="json"
    )
    assert response.status_code == 200
    assert APIClient().post("/api/v1/auth/token/", {}, format="json").status_code == 400


# --- pages ----------------------------------------------------------------------------------------


def _workspace(role, target=None, *, page_of_case=False, supervisors_only=False):
    """The officers' workspace: log in first; entities and the admin are refused (403)."""
    if role == "anonymous":
        return 302
    if role not in AGENCY_OF:
        return 403
    if supervisors_only and role not in SUPERVISOR_AT:
        return 403
    if page_of_case and not member_of_agency(role, target):
        return 404
    return 200


def _figures(role, target, *, anonymous):
    """An agency's figures: its supervisors and auditors read them; a supervisor or auditor
    of another agency finds nothing (404); anyone else is refused (403)."""
    if role == "anonymous":
        return anonymous
    if role not in FIGURES_OF:
        return 403
    return 200 if FIGURES_OF[role] == agency(target) else 404


def _portal(role, target=None, *, page_of_case=False):
    """The entity portal: log in first; officers and auditors are refused (403)."""
    if role == "anonymous":
        return 302
    if role in AGENCY_OF:
        return 403
    if page_of_case and not sees(role, target):
        return 404
    return 200


def _url(name, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


PAGES = {
    # The officers' workspace.
    "workflow index": (
        lambda w, t: "/workflow/",
        lambda role, t: 302 if role in AGENCY_OF else _workspace(role),
    ),
    "workflow inbox": (lambda w, t: "/workflow/inbox/", lambda role, t: _workspace(role)),
    "workflow queue": (lambda w, t: "/workflow/queue/", lambda role, t: _workspace(role)),
    "workflow archive": (lambda w, t: "/workflow/archive/", lambda role, t: _workspace(role)),
    "workflow cases": (lambda w, t: "/workflow/cases/", lambda role, t: _workspace(role)),
    "workflow agency tasks": (
        lambda w, t: "/workflow/agency/",
        lambda role, t: _workspace(role, supervisors_only=True),
    ),
    "workflow agency figures": (
        lambda w, t: f"/workflow/agency/metrics/?agency={w.cases[t].agency.code}",
        lambda role, t: _figures(role, t, anonymous=302),
    ),
    "workflow agency figures (XLSX)": (
        lambda w, t: f"/workflow/agency/metrics.xlsx?agency={w.cases[t].agency.code}",
        lambda role, t: _figures(role, t, anonymous=302),
    ),
    "workflow case page": (
        lambda w, t: f"/workflow/cases/{w.cases[t].pk}/",
        lambda role, t: _workspace(role, t, page_of_case=True),
    ),
    "workflow evidence preview": (
        lambda w, t: f"/workflow/evidence/{w.evidence[t].pk}/preview/",
        lambda role, t: _workspace(role, t, page_of_case=True),
    ),
    "workflow evidence download": (
        lambda w, t: f"/workflow/evidence/{w.evidence[t].pk}/download/",
        lambda role, t: _workspace(role, t, page_of_case=True),
    ),
    # In-app notifications (JSON): anyone signed in reads their own.
    "notifications": (
        lambda w, t: "/notifications/",
        lambda role, t: 401 if role == "anonymous" else 200,
    ),
    # The entity portal.
    # An officer who opens the portal's start page is sent to the workspace.
    "portal index": (
        lambda w, t: _url("portal:index"),
        lambda role, t: 302 if role in AGENCY_OF else _portal(role),
    ),
    "portal records": (lambda w, t: _url("portal:records"), lambda role, t: _portal(role)),
    "portal cases": (lambda w, t: _url("portal:cases"), lambda role, t: _portal(role)),
    "portal file": (lambda w, t: _url("portal:file"), lambda role, t: _portal(role)),
    "portal notifications": (
        lambda w, t: _url("portal:notifications"),
        lambda role, t: _portal(role),
    ),
    "portal case page": (
        lambda w, t: _url("portal:case", w.cases[t].pk),
        lambda role, t: _portal(role, t, page_of_case=True),
    ),
    "portal letter": (
        lambda w, t: _url("portal:letter", w.cases[t].pk, w.letters[t].pk),
        lambda role, t: _portal(role, t, page_of_case=True),
    ),
    # Company accounts: a member manages their own company's account, nobody else's.
    "portal company account": (
        lambda w, t: _url("portal:organisation"),
        lambda role, t: _portal(role),
    ),
    "portal remove a member (confirmation)": (
        lambda w, t: _url(
            "portal:organisation_member_remove",
            w.organisations[subject(t)].pk,
            w.colleagues[subject(t)].pk,
        ),
        lambda role, t: _portal(role, t, page_of_case=True),
    ),
    "portal revoke an invitation (confirmation)": (
        lambda w, t: _url(
            "portal:organisation_invitation_revoke",
            w.organisations[subject(t)].pk,
            w.invitations[subject(t)].pk,
        ),
        lambda role, t: _portal(role, t, page_of_case=True),
    ),
    # The public verification page: a letter's code is meant to be checked by anyone.
    "verify a letter": (
        lambda w, t: _url("letter_verify", w.letters[t].verification_code),
        lambda role, t: 200,
    ),
}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_page(world, role, page):
    address, expectation = PAGES[page]
    if address(world, TARGETS[0]) is None:
        pytest.skip(f"{page}: not mounted in this build")
    client = browser(world, role)
    got = {t: client.get(address(world, t)).status_code for t in TARGETS}
    assert got == {t: expectation(role, t) for t in TARGETS}


@pytest.mark.parametrize("role", ROLES)
def test_claiming_from_the_workspace(world, role):
    """The workspace's claim button, posted for each case's task."""
    client = browser(world, role)
    got = {}
    for target in TARGETS:
        response = client.post(f"/workflow/tasks/{world.task(target).pk}/claim/")
        got[target] = response.status_code
    expected = {t: _workspace(role, t, page_of_case=True) for t in TARGETS}
    # A claim redirects back to the case page, with a message saying whether it worked.
    expected = {t: 302 if code == 200 else code for t, code in expected.items()}
    assert got == expected
    claimed = {t for t in TARGETS if world.task(t).owner_id is not None}
    assert claimed == {t for t in TARGETS if INTAKE_AT.get(role) == agency(t) and not tied(role, t)}


def _revoke_on_the_page(role, target):
    """The case page's revocation form: log in first; entities and the admin are refused
    the workspace (403), another agency's case is 404; a signer of the agency without a
    tie revokes and is sent back to the case page (302); any other officer gets 403."""
    if role == "anonymous":
        return 302
    if role not in AGENCY_OF:
        return 403
    if not member_of_agency(role, target):
        return 404
    return _revoke(role, target, done=302)


@pytest.mark.parametrize("role", ROLES)
def test_revoking_from_the_workspace(world, role):
    client = browser(world, role)
    offered, got = {}, {}
    for target in TARGETS:
        case = world.approved[target]
        page = client.get(f"/workflow/cases/{case.pk}/")
        offered[target] = (
            page.status_code == 200
            and "Propose to revoke this restoration" in page.content.decode()
        )
        response = client.post(
            f"/workflow/cases/{case.pk}/revoke/", {**_revocation(target), "confirm": "on"}
        )
        got[target] = response.status_code
    expected = {t: _revoke_on_the_page(role, t) for t in TARGETS}
    assert got == expected
    may = {t for t in TARGETS if role != "anonymous" and expected[t] == 302}
    assert offered == {t: t in may for t in TARGETS}
    proposed = {t for t in TARGETS if Revocation.objects.filter(case=world.approved[t]).exists()}
    assert proposed == may


def test_anonymous_visitors_of_the_workspace_are_sent_to_log_in(world):
    response = Client().get(f"/workflow/cases/{world.cases['A@X'].pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- conflicts of interest: the insider on A's case and on B's ------------------------------------
# The insider represents company A and holds intake, signing and supervisor roles at X. On
# B@X they act as any officer; on A@X every officer's action is refused with
# ``conflict_of_interest`` and changes nothing; B@Y is not theirs to see at all.


def _outcome(response) -> str:
    """What a workspace POST did, as the person sees it: its status, or the message it left."""
    if response.status_code != 302:
        return str(response.status_code)
    said = [str(m) for m in get_messages(response.wsgi_request)]
    if any("Article 43" in m for m in said):
        return "conflict"
    return "done"


def _api_outcome(response) -> str:
    if response.status_code == 403 and response.json()["code"] == "conflict_of_interest":
        assert response.json()["basis"] == "《中华人民共和国行政处罚法》第四十三条"
        return "conflict"
    return "done" if response.status_code == 200 else str(response.status_code)


def _insider_claims_in_the_api(world, target):
    return _api_outcome(
        api(world, "insider_x").post(f"/api/v1/tasks/{world.task(target).pk}/claim/")
    )


def _insider_completes_in_the_api(world, target):
    client, task = api(world, "insider_x"), world.task(target)
    client.post(f"/api/v1/tasks/{task.pk}/claim/")
    return _api_outcome(
        client.post(f"/api/v1/tasks/{task.pk}/complete/", {"decision": "accept"}, format="json")
    )


def _insider_claims_in_the_workspace(world, target):
    return _outcome(
        browser(world, "insider_x").post(f"/workflow/tasks/{world.task(target).pk}/claim/")
    )


def _insider_completes_in_the_workspace(world, target):
    client, task = browser(world, "insider_x"), world.task(target)
    client.post(f"/workflow/tasks/{task.pk}/claim/")
    response = client.post(f"/workflow/tasks/{task.pk}/complete/", {"decision": "accept"})
    return "conflict" if response.status_code == 403 else _outcome(response)


def _insider_assigns_as_supervisor(world, target):
    task = world.task(target)
    return _outcome(
        browser(world, "insider_x").post(
            f"/workflow/tasks/{task.pk}/assign/", {"assignee": world.users["intake_x"].pk}
        )
    )


def _insider_releases_as_supervisor(world, target):
    task = world.task(target)
    actions.task_claim(task=task, user=world.users["intake_x"])
    return _outcome(browser(world, "insider_x").post(f"/workflow/tasks/{task.pk}/release/"))


def _insider_extends_a_deadline(world, target):
    case = world.cases[target]
    deadline = Deadline.objects.get(case=case, step="acceptance", status="running")
    response = browser(world, "insider_x").post(
        f"/workflow/cases/{case.pk}/deadlines/{deadline.pk}/extend/",
        {"days": 2, "reason": "Short-staffed."},
    )
    return "conflict" if response.status_code == 403 else _outcome(response)


def _insider_is_assigned_by_the_supervisor(world, target):
    task = world.task(target)
    return _outcome(
        browser(world, "supervisor_x").post(
            f"/workflow/tasks/{task.pk}/assign/", {"assignee": world.users["insider_x"].pk}
        )
    )


def _insider_is_offered_by_the_supervisor(world, target):
    page = browser(world, "supervisor_x").get(f"/workflow/cases/{world.cases[target].pk}/")
    offered = page.context["task_rows"][0].assign_form.fields["assignee"].queryset
    return "done" if world.users["insider_x"] in offered else "conflict"


INSIDER_ACTIONS = {
    "claim (API)": _insider_claims_in_the_api,
    "complete (API)": _insider_completes_in_the_api,
    "claim (workspace)": _insider_claims_in_the_workspace,
    "complete (workspace)": _insider_completes_in_the_workspace,
    "assign a task (workspace)": _insider_assigns_as_supervisor,
    "release another's task (workspace)": _insider_releases_as_supervisor,
    "extend a deadline (workspace)": _insider_extends_a_deadline,
    "be assigned by the supervisor (workspace)": _insider_is_assigned_by_the_supervisor,
    "be offered in the supervisor's choice": _insider_is_offered_by_the_supervisor,
}


@pytest.mark.parametrize("action", list(INSIDER_ACTIONS))
def test_the_insider_acts_on_company_Bs_case_and_on_nothing_of_company_As(world, action):
    got = {}
    for target in ("A@X", "B@X"):
        before = (world.cases[target].events.count(), world.task(target).owner_id)
        got[target] = INSIDER_ACTIONS[action](world, target)
        if got[target] == "conflict":  # the refusal leaves the case as it was
            after = (world.cases[target].events.count(), world.task(target).owner_id)
            claimed_first = action.startswith("release")
            assert claimed_first or after == before, (target, before, after)
    assert got == {"A@X": "conflict", "B@X": "done"}


def test_bulk_assignment_to_the_insider_skips_company_As_task_with_the_reason(world):
    ids = [world.task(t).pk for t in ("A@X", "B@X")]

    response = browser(world, "supervisor_x").post(
        "/workflow/agency/assign/", {"assignee": world.users["insider_x"].pk, "tasks": ids}
    )

    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    skipped = [m for m in said if m.startswith("Skipped")]
    assert len(skipped) == 1 and f"#{ids[0]}" in skipped[0] and "Article 43" in skipped[0]
    assert world.task("A@X").owner_id is None
    assert world.task("B@X").owner_id == world.users["insider_x"].pk


# --- lists filter in the database ---------------------------------------------------------------


def _grow(world: World, more: int) -> None:
    """``more`` cases of company A at agency X, each with evidence and a letter."""
    company = world.cases["A@X"].subject
    x = world.cases["A@X"].agency
    for _ in range(more):
        record = restorable_record(company, x)
        case = flow.file_restoration(company, [record], world.users["entity_a"])
        _letter(case)


def _queries(client, address: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, (address, response.status_code)
    return len(captured), [q["sql"] for q in captured]


@pytest.mark.parametrize(
    ("role", "address"),
    [
        ("entity_a", "/api/v1/records/"),
        ("entity_a", "/api/v1/cases/"),
        ("entity_a", "/api/v1/cases/{case}/letters/"),
        ("case_officer_x", "/api/v1/records/"),
        ("case_officer_x", "/api/v1/cases/"),
        ("intake_x", "/api/v1/tasks/"),
        ("intake_x", "/api/v1/tasks/?box=queue"),
        ("auditor_x", "/api/v1/cases/"),
        ("auditor_x", "/api/v1/records/?status=active"),
    ],
)
def test_an_api_list_costs_the_same_queries_with_more_rows_and_never_counts(world, role, address):
    address = address.format(case=world.cases["A@X"].pk)
    client = api(world, role)
    client.get(address)  # warm caches (content types, ...)
    few, _ = _queries(client, address)
    _grow(world, 6)
    if "letters" in address:
        for _ in range(6):
            _letter_again(world.cases["A@X"])
    many, statements = _queries(client, address)
    assert many == few, (address, few, many)
    counting = [sql for sql in statements if "COUNT(" in sql.upper()]
    assert counting == [], counting
    assert len(client.get(address).json()["results"]) > 1


def _letter_again(case: Case) -> Letter:
    letter = Letter.objects.filter(case=case).first()
    letter.pk = None
    letter.verification_code = verification_code_new()
    letter.issued_at = timezone.now() + datetime.timedelta(seconds=Letter.objects.count())
    letter.save()
    return letter


def test_an_entitys_case_page_costs_the_same_with_more_evidence(world):
    case = world.cases["A@X"]
    client = api(world, "entity_a")
    address = f"/api/v1/cases/{case.pk}/"
    client.get(address)
    few, _ = _queries(client, address)
    for n in range(8):
        Evidence.objects.create(
            case=case,
            original_name=f"more-{n}.pdf",
            sha256=f"{n:064d}",
            size=10,
            content_type="application/pdf",
            uploaded_by=world.users["entity_a"],
            file=f"evidence/more-{n}",
        )
    many, _ = _queries(client, address)
    assert many == few
