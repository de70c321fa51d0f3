"""Shared fixtures.

The suite runs on SQLite by default. With ``DATABASE_URL`` naming PostgreSQL it runs
there; tests marked ``postgres`` need that server and are deselected on SQLite by
the test script (under ``CI=true`` the script refuses to run without PostgreSQL).
"""

import pytest
from django.db import connection

from cases.models import Role
from tests import factories


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(autouse=True)
def _english_messages(settings):
    """Tests assert English messages; the default interface language is zh-hans."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI always does)")


@pytest.fixture
def agency(db):
    return factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局", region_code="440300")


@pytest.fixture
def other_agency(db):
    return factories.AgencyFactory(code="GZAMR", name="广州市市场监督管理局", region_code="440100")


@pytest.fixture
def platforms(db):
    return [
        factories.PlatformFactory(code="creditchina", name="信用中国"),
        factories.PlatformFactory(code="gsxt", name="国家企业信用信息公示系统"),
    ]


@pytest.fixture
def company(db):
    return factories.SubjectFactory(name="深圳市示例科技有限公司")


@pytest.fixture
def applicant(company):
    return factories.representative(company, "acme")


@pytest.fixture
def staff(agency):
    """One officer per role at the agency, by role name."""
    return {role: factories.officer(role, agency) for role in Role.values if role != Role.AUDITOR}


@pytest.fixture
def without_notifications():
    """Cases whose events queue no messages: for stories about the event chain itself."""
    from cases.signals import case_event_recorded
    from notifications.services import on_case_event

    case_event_recorded.disconnect(dispatch_uid="notifications.on_case_event")
    yield
    case_event_recorded.connect(on_case_event, dispatch_uid="notifications.on_case_event")
