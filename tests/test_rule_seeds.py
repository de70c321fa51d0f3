"""Each seeded rule figure, pinned to the article it comes from (GUIDE.md §11, §12).

One row per (list type, tier, sector, instrument, field): the value the data migration
seeded and the citation it carries, as a Chinese decision writes it. A figure the guide
does not confirm ([SECONDARY] or [unconfirmed]) is pinned as empty, with no citation.
"""

import datetime
from decimal import Decimal

import pytest
from django.db.models import Q

from cases.models import RuleSet
from cases.seeds import REDRESS_SETTINGS, seed_rows

pytestmark = pytest.mark.django_db

D = datetime.date
O36 = "《信用修复管理办法》"
S107 = "《市场监督管理信用修复管理办法》"
S44 = "《市场监督管理严重违法失信名单管理办法》"
ABN = "《企业经营异常名录管理办法》"
SPC = "《最高人民法院关于公布失信被执行人名单信息的若干规定》"
APL = "《中华人民共和国行政处罚法》"
PEN, SL, AB, DD, BL, RD = (
    "penalty_publication",
    "serious_dishonesty",
    "abnormal_operations",
    "dishonest_debtor",
    "sector_blacklist",
    "revocation_decision",
)
MR = "market_regulation"

# (list type, tier, sector, instrument, day in force, field, value, citation)
SEEDS = [
    # NDRC Order 36, from 2026-04-01: the national default
    (PEN, "minor", "", "ndrc36", None, "published", False, f"{O36}第十二条"),
    (PEN, "minor", "", "ndrc36", None, "min_publication_months", 0, f"{O36}第十二条"),
    (PEN, "minor", "", "ndrc36", None, "max_publication_months", 3, f"{O36}第十二条"),
    (PEN, "general", "", "ndrc36", None, "min_publication_months", 3, f"{O36}第十二条"),
    (PEN, "general", "", "ndrc36", None, "max_publication_months", 12, f"{O36}第十二条"),
    (PEN, "serious", "", "ndrc36", None, "min_publication_months", 12, f"{O36}第十二条"),
    (PEN, "serious", "", "ndrc36", None, "max_publication_months", 36, f"{O36}第十二条"),
    (PEN, "general", "", "ndrc36", None, "natural_persons_published", False, f"{O36}第十二条"),
    (PEN, "general", "", "ndrc36", None, "auto_end", True, f"{O36}第十二条"),
    (PEN, "general", "", "ndrc36", None, "barred_penalty_types", [], f"{O36}第二条"),
    (PEN, "general", "", "ndrc36", None, "acceptance_days", 3, f"{O36}第十六条第二款"),
    (PEN, "general", "", "ndrc36", None, "restoration_review_days", 7, f"{O36}第十六条第三款"),
    (PEN, "general", "", "ndrc36", None, "extension_days", 10, f"{O36}第十六条第三款"),
    (
        PEN,
        "general",
        "",
        "ndrc36",
        None,
        "extension_needs_head_approval",
        False,
        f"{O36}第十六条第三款",
    ),
    (PEN, "general", "", "ndrc36", None, "objection_review_days", 7, f"{O36}第十八条"),
    (PEN, "general", "", "ndrc36", None, "temporary_restoration_days", 10, f"{O36}第二十条"),
    (
        PEN,
        "serious",
        "",
        "ndrc36",
        None,
        "revocation_publication_months",
        36,
        f"{O36}第二十五条",
    ),
    (PEN, "serious", "", "ndrc36", None, "revocation_bar_months", 36, f"{O36}第二十五条"),
    (
        PEN,
        "general",
        "",
        "ndrc36",
        None,
        "required_materials",
        ["commitment_letter", "fulfilment_proof"],
        f"{O36}第十五条",
    ),
    (PEN, "general", "", "ndrc36", None, "removal_days", 3, f"{APL}第四十八条"),
    (PEN, "general", "", "ndrc36", None, "letter_service_days", 7, f"{APL}第六十一条"),
    (BL, "serious", "", "ndrc36", None, "max_publication_months", 36, f"{O36}第十二条"),
    # NDRC Order 58, 2023-05-01 to 2026-03-31: figures only in secondary sources → empty
    (PEN, "general", "", "ndrc58", D(2025, 6, 1), "min_publication_months", None, ""),
    (PEN, "general", "", "ndrc58", D(2025, 6, 1), "max_publication_months", None, ""),
    (PEN, "serious", "", "ndrc58", D(2025, 6, 1), "acceptance_days", None, ""),
    (PEN, "serious", "", "ndrc58", D(2025, 6, 1), "restoration_review_days", None, ""),
    (PEN, "serious", "", "ndrc58", D(2025, 6, 1), "extension_days", None, ""),
    # SAMR Order 107, from 2025-12-25: the market-regulation standard (Order 36 Art. 11)
    (
        PEN,
        "minor",
        MR,
        "samr107",
        None,
        "never_published_penalty_types",
        ["warning"],
        f"{S107}第七条",
    ),
    (PEN, "minor", MR, "samr107", None, "max_publication_months", 3, f"{S107}第七条"),
    (
        PEN,
        "minor",
        MR,
        "samr107",
        None,
        "minor_fine_limit_business",
        Decimal("50000"),
        f"{S107}第七条",
    ),
    (
        PEN,
        "minor",
        MR,
        "samr107",
        None,
        "minor_fine_limit_person",
        Decimal("5000"),
        f"{S107}第七条",
    ),
    (PEN, "general", MR, "samr107", None, "min_publication_months", 3, f"{S107}第九条"),
    (PEN, "general", MR, "samr107", None, "max_publication_months", 12, f"{S107}第九条"),
    (PEN, "serious", MR, "samr107", None, "min_publication_months", 12, f"{S107}第八条"),
    (PEN, "serious", MR, "samr107", None, "max_publication_months", 36, f"{S107}第八条"),
    (
        PEN,
        "serious",
        MR,
        "samr107",
        None,
        "no_early_repair_penalty_types",
        ["licence_revocation", "qualification_downgrade", "closure"],
        f"{S107}第八条第（三）项",
    ),
    (PEN, "general", MR, "samr107", None, "acceptance_days", 2, f"{S107}第十四条"),
    (PEN, "general", MR, "samr107", None, "materials_notice_days", 2, f"{S107}第十四条"),
    (
        PEN,
        "general",
        MR,
        "samr107",
        None,
        "refusal_needs_head_approval",
        True,
        f"{S107}第十四条、第十七条",
    ),
    (PEN, "general", MR, "samr107", None, "restoration_review_days", 7, f"{S107}第十六条"),
    (PEN, "general", MR, "samr107", None, "extension_days", 10, f"{S107}第十六条"),
    (
        PEN,
        "general",
        MR,
        "samr107",
        None,
        "extension_needs_head_approval",
        True,
        f"{S107}第十六条",
    ),
    (PEN, "general", MR, "samr107", None, "removal_days", 3, f"{S107}第十七条"),
    (PEN, "general", MR, "samr107", None, "temporary_restoration_days", 7, f"{S107}第二十二条"),
    (
        PEN,
        "serious",
        MR,
        "samr107",
        None,
        "revocation_publication_months",
        36,
        f"{S107}第二十三条",
    ),
    (PEN, "serious", MR, "samr107", None, "revocation_bar_months", 36, f"{S107}第二十三条"),
    (PEN, "general", MR, "samr107", None, "objection_review_days", 7, f"{O36}第十八条"),
    (PEN, "general", MR, "samr107", D(2026, 1, 15), "objection_review_days", None, ""),
    # The serious list: Order 44, its deadlines under Order 107 from 2025-12-25
    (SL, "serious", "", "samr44", D(2025, 6, 1), "min_publication_months", 12, f"{S44}第十六条"),
    (SL, "serious", "", "samr44", D(2025, 6, 1), "max_publication_months", 36, f"{S44}第二十一条"),
    (SL, "serious", "", "samr44", D(2025, 6, 1), "acceptance_days", 2, f"{S44}第十七条"),
    (SL, "serious", "", "samr44", D(2025, 6, 1), "restoration_review_days", 15, f"{S44}第十七条"),
    (SL, "serious", "", "samr44", D(2025, 6, 1), "removal_days", 3, f"{S44}第十八条"),
    (SL, "serious", "", "samr44", None, "restoration_review_days", 7, f"{S107}第十六条"),
    (SL, "serious", "", "samr44", None, "extension_days", 10, f"{S107}第十六条"),
    (
        SL,
        "serious",
        "",
        "samr44",
        None,
        "min_publication_months",
        12,
        f"{S107}第十三条；{S44}第十六条",
    ),
    (
        SL,
        "serious",
        "",
        "samr44",
        None,
        "max_publication_months",
        36,
        f"{S107}第十三条；{S44}第二十一条",
    ),
    # The abnormal-operations list (Order 68 as revised by Order 101)
    (AB, "minor", "", "abnormal", None, "objection_window_days", 30, f"{ABN}第十五条"),
    (AB, "minor", "", "abnormal", None, "acceptance_days", 5, f"{ABN}第十五条"),
    (AB, "minor", "", "abnormal", None, "objection_review_days", 20, f"{ABN}第十五条"),
    (AB, "minor", "", "abnormal", None, "restoration_review_days", 2, f"{S107}第十六条"),
    (AB, "minor", "", "abnormal", D(2025, 6, 1), "restoration_review_days", 5, None),
    (AB, "minor", "", "abnormal", None, "max_publication_months", None, ""),
    # The published decision revoking a restoration: 3 years, no early end, no repair;
    # an objection to it is checked as any other (Order 36 Arts. 18 and 25)
    (RD, "general", "", "ndrc36", None, "min_publication_months", 36, f"{O36}第二十五条"),
    (RD, "serious", "", "ndrc36", None, "max_publication_months", 36, f"{O36}第二十五条"),
    (RD, "minor", "", "ndrc36", None, "auto_end", True, f"{O36}第二十五条"),
    (
        RD,
        "general",
        "",
        "ndrc36",
        None,
        "no_early_repair_penalty_types",
        ["listing"],
        f"{O36}第二十五条",
    ),
    (RD, "general", "", "ndrc36", None, "objection_review_days", 7, f"{O36}第十八条"),
    (RD, "serious", "", "ndrc36", None, "acceptance_days", 3, f"{O36}第十六条第二款"),
    (RD, "general", "", "ndrc36", None, "temporary_restoration_days", None, ""),
    # The court's list of dishonest judgment debtors
    (DD, "general", "", "spc_debtors", None, "objection_review_days", 15, f"{SPC}第十二条"),
    (DD, "general", "", "spc_debtors", None, "removal_days", 3, None),
    (DD, "general", "", "spc_debtors", None, "max_publication_months", None, ""),
    (
        DD,
        "general",
        "",
        "spc_debtors",
        None,
        "day_kinds",
        {"acceptance_days": "calendar", "objection_review_days": "calendar"},
        f"{SPC}第十二条",
    ),
]

TODAY = D(2026, 12, 5)


@pytest.mark.parametrize(
    ("list_type", "tier", "sector", "instrument", "on", "field", "value", "citation"),
    SEEDS,
    ids=[f"{r[0]}-{r[1]}-{r[2] or 'national'}-{r[3]}-{r[4] or 'now'}-{r[5]}" for r in SEEDS],
)
def test_each_seeded_figure_rests_on_its_article(
    list_type, tier, sector, instrument, on, field, value, citation
):
    on = on or TODAY
    rule_set = (
        RuleSet.objects.filter(list_type__code=list_type, severity=tier, sector=sector, agency=None)
        .filter(effective_from__lte=on)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .get()
    )

    assert rule_set.instrument == instrument
    assert getattr(rule_set, field) == value
    if citation is not None:  # None: several articles, pinned by the value alone
        assert rule_set.citation_text(field, "zh-hans") == citation


def test_every_seeded_figure_of_the_law_names_its_article():
    """A seeded number is either cited or one of Redress's own settings."""
    for row in seed_rows():
        for name in (
            "min_publication_months",
            "max_publication_months",
            "acceptance_days",
            "objection_review_days",
            "restoration_review_days",
            "removal_days",
            "extension_days",
            "revocation_bar_months",
            "revocation_publication_months",
            "temporary_restoration_days",
            "materials_notice_days",
        ):
            if row.get(name) is not None:
                assert name in row["citations"], (row["list_type"], row["instrument"], name)
        assert not (REDRESS_SETTINGS & set(row["citations"]) - {"required_materials"})


def test_the_seeded_versions_pass_the_admins_checks_and_name_their_instrument():
    for rule_set in RuleSet.objects.filter(agency=None):
        rule_set.full_clean()
        assert rule_set.instrument
        assert rule_set.legal_basis.startswith("《")
