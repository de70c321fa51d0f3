"""The English pages name list types, platforms, measures and agencies in English.

Reference data carries a Chinese ``name`` and an English ``name_en``; every page, the
API and the messages name it through one helper (``localized_name``). A page that prints
the Chinese name to an English reader fails here.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import Measure, Platform
from notifications.models import HoldingMismatch, HoldingsReport
from tests import factories
from tests.flow_helpers import APPROVED, accept, file_restoration, refresh, review, sign
from tests.helpers import restorable_record


@pytest.fixture
def decided(company, agency, applicant, staff):
    """A restoration approved on demo-like reference data: three platforms, one of them
    applying a measure, every name given in both languages; nothing acknowledged yet."""
    platforms = [
        factories.PlatformFactory(
            code="creditchina", name="信用中国", name_en="Credit China", shares=True
        ),
        factories.PlatformFactory(
            code="gsxt",
            name="国家企业信用信息公示系统",
            name_en="National Enterprise Credit Information Publicity System",
            kind=Platform.Kind.NECIPS,
            applies_measures=True,
        ),
    ]
    agency.name_en = "Shenzhen Administration for Market Regulation"
    agency.save(update_fields=["name_en"])
    record = restorable_record(company, agency, platforms, decision_no="深市监罚〔2025〕7号")
    measure = Measure.objects.create(
        list_type=record.list_type,
        code="procurement_t",
        name="限制参与政府采购活动",
        name_en="No public procurement",
        applied_by="财政部门",
        applied_by_en="Finance departments",
    )
    record.measures.set([measure])
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    review(case, staff["case_officer"], APPROVED)
    sign(case, staff["signer"], APPROVED)
    report = HoldingsReport.objects.create(platform=platforms[0], source="api", rows=1)
    HoldingMismatch.objects.create(
        platform=platforms[0],
        first_report=report,
        last_report=report,
        kind=HoldingMismatch.Kind.STILL_SHOWN,
        record=record,
        decision_no=record.decision_no,
        subject_code=record.subject.code,
    )
    return refresh(case), record, platforms, measure


def chinese_names(case, record, platforms, measure) -> list[str]:
    names = [case.agency.name, record.list_type.name, measure.name, measure.applied_by]
    names += [p.name for p in platforms]
    return names


def english(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_english_pages_and_api_name_reference_data_in_english(
    client, decided, applicant, staff
):
    case, record, platforms, measure = decided
    assert record.list_type.name_en  # seeded in both languages
    pages = {}
    english(client, staff["supervisor"])
    for name in ("workspace:case", "workspace:agency_problems", "workspace:queue"):
        url = reverse(name, args=[case.pk]) if name == "workspace:case" else reverse(name)
        response = client.get(url)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    english(client, applicant)
    for name in ("portal:records", "portal:cases", "portal:case"):
        url = reverse(name, args=[case.pk]) if name == "portal:case" else reverse(name)
        response = client.get(url, headers={"accept-language": "en"})
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    api = APIClient()
    api.force_authenticate(applicant)
    response = api.get(f"/api/v1/cases/{case.pk}/", headers={"accept-language": "en"})
    assert response.status_code == 200
    pages["api"] = response.content.decode("unicode_escape")

    for where, page in pages.items():
        for name in chinese_names(case, record, platforms, measure):
            assert name not in page, f"{where} shows {name!r} to an English reader"
    assert "Credit China" in pages["workspace:case"]
    assert "No public procurement (applied by Finance departments)" in pages["portal:case"]
    assert "applied by Finance departments" in pages["workspace:case"]
    assert "Shenzhen Administration for Market Regulation" in pages["portal:case"]
    assert record.list_type.name_en in pages["portal:records"]
    assert "Credit China" in pages["workspace:agency_problems"]


def test_the_chinese_pages_keep_the_chinese_names(client, decided, applicant):
    case, _record, _platforms, measure = decided
    client.force_login(applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("portal:case", args=[case.pk])).content.decode()
    assert "信用中国" in page and measure.name in page and case.agency.name in page
    assert f"实施主体：{measure.applied_by}" in page


@pytest.mark.django_db
def test_every_seeded_measure_names_its_applying_body_in_english():
    """The catalogue as seeded: each measure's applying body has an English name, which
    an English reader sees, and the Chinese one a Chinese reader sees."""
    measures = list(Measure.objects.all())
    assert measures
    for measure in measures:
        assert measure.applied_by_en and measure.applied_by_en.isascii(), measure.code
        assert measure.localized_applied_by("en") == measure.applied_by_en
        assert measure.localized_applied_by("zh-hans") == measure.applied_by
