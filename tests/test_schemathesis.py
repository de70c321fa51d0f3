"""Property-based tests of the REST API against its own OpenAPI schema (schemathesis).

Schemathesis reads /api/schema/ from the WSGI application and, for every operation,
sends a bounded number of generated requests, valid and invalid, authenticated with an
entity's token and then with an officer's. Every response must be something other than
a server error, carry a documented status code and content type, and match the schema
documented for it. Half of the generated ids are replaced by ids of real objects the
caller may see, so that bodies reach the code behind the permission checks.
Derandomised: the same examples run every time, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cases.accounts import api_token_create
from cases.models import Role
from config.wsgi import application
from documents.codes import verification_code_new
from documents.models import Letter
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, restorable_record

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go through the WSGI application itself, whose end-of-request signal closes
    the database connection (and with it, on PostgreSQL, the test's transaction). Django's
    test client disconnects that handler around each request; so do we, for the test."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    from django.core.files.storage import storages

    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


# Loaded when the module is collected: generating the schema reads no database.
# (schemathesis' lazy ``from_fixture`` loader does not run on pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def known(db, company, agency, platforms, applicant, staff):
    """Real objects of the entity and of the agency, by the path parameter naming them."""
    record = restorable_record(company, agency, platforms)
    case = flow.file_restoration(company, [record], applicant)
    restorable_record(company, agency, platforms)  # one not in any case, to file
    letter = Letter.objects.create(
        case=case,
        kind=Letter.Kind.ACCEPTANCE,
        language="en",
        status=Letter.Status.PENDING,
        verification_code=verification_code_new(),
        issued_at=case.submitted_at,
        template_version="test",
        template_sha256="0" * 64,
        html="<p>Acceptance notice</p>",
    )
    task = flow.open_task(case, "acceptance_check")
    return {"case": case.pk, "record": record.pk, "task": task.pk, "letter": letter.pk}


def _with_known_ids(case, known: dict, caller) -> None:
    """Point about half of the generated ids at objects that exist (an API token: one
    of the caller's own, not the one the request is made with)."""
    params = case.path_parameters or {}
    path = case.operation.path
    for name, value in list(params.items()):
        if not isinstance(value, int) or value % 2:
            continue
        if name == "case_pk" or (name == "id" and path.startswith("/api/v1/cases/{id}")):
            params[name] = known["case"]
        elif name == "id" and "/letters/" in path:
            params[name] = known["letter"]
        elif name == "id" and path.startswith("/api/v1/records/"):
            params[name] = known["record"]
        elif name == "id" and path.startswith("/api/v1/tasks/"):
            params[name] = known["task"]
        elif name == "id" and path.startswith("/api/v1/auth/tokens/"):
            params[name] = api_token_create(user=caller)[0].pk


def _token(user) -> dict:
    return {"Authorization": f"Token {api_token(user)}"}


@schema.parametrize()
@EXAMPLES
def test_the_api_as_an_entity(case, known, applicant):
    _with_known_ids(case, known, applicant)
    case.call_and_validate(headers=_token(applicant), checks=CHECKS)


@schema.parametrize()
@EXAMPLES
def test_the_api_as_an_officer(case, known, staff, agency):
    officer = factories.officer(Role.INTAKE, agency, "intake-szamr")
    _with_known_ids(case, known, officer)
    case.call_and_validate(headers=_token(officer), checks=CHECKS)
