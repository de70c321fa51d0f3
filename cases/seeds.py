"""National defaults from DOMAIN.md, loaded by a data migration and by the demo.

Figures are configuration, not law in code: an administrator adds a new rule
version (with its effective date) when a region or a year differs.
"""

import datetime

LIST_TYPES = [
    ("penalty_publication", "行政处罚信息公示", "Published administrative penalty"),
    ("serious_dishonesty", "严重违法失信名单", "Serious illegal and dishonest enterprises"),
    ("abnormal_operations", "经营异常名录", "Abnormal business operations"),
    ("dishonest_debtor", "失信被执行人", "Dishonest judgment debtors"),
    ("sector_blacklist", "行业黑名单", "Sector blacklist"),
]

NATIONAL_EFFECTIVE_FROM = datetime.date(2019, 1, 1)
BARRED = ["licence_revocation", "suspension", "practice_restriction"]
BASIC_MATERIALS = ["commitment_letter", "fulfilment_proof"]

# (list type, severity) -> rule fields. Months are publication periods; *_days are
# working days. Sources: DOMAIN.md "Lists Redress must handle from the start".
NATIONAL_RULES = {
    ("penalty_publication", "minor"): dict(
        min_publication_months=0,
        max_publication_months=3,
        restoration_review_days=3,
        legal_basis="信用修复管理办法（试行）; minor penalties published up to 3 months",
    ),
    ("penalty_publication", "general"): dict(
        min_publication_months=3,
        max_publication_months=12,
        restoration_review_days=5,
        legal_basis="信用修复管理办法（试行）; general penalties published 3 months to 1 year",
    ),
    ("penalty_publication", "serious"): dict(
        min_publication_months=12,
        max_publication_months=36,
        restoration_review_days=10,
        legal_review_required=True,
        signers_required=2,
        legal_basis="信用修复管理办法（试行）; serious penalties published 1 to 3 years",
    ),
    ("serious_dishonesty", "minor"): dict(
        min_publication_months=12, max_publication_months=36, restoration_review_days=10
    ),
    ("serious_dishonesty", "general"): dict(
        min_publication_months=12, max_publication_months=36, restoration_review_days=10
    ),
    ("serious_dishonesty", "serious"): dict(
        min_publication_months=12,
        max_publication_months=36,
        restoration_review_days=10,
        legal_review_required=True,
        signers_required=2,
        required_materials=[*BASIC_MATERIALS, "training_certificate", "credit_report"],
        legal_basis="市场监督管理严重违法失信名单管理办法; early removal after 1 year, automatic at 3",
    ),
    ("abnormal_operations", "minor"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=5,
        objection_window_days=30,
        barred_penalty_types=[],
        legal_basis="企业经营异常名录管理暂行办法; removal within 5 working days",
    ),
    ("abnormal_operations", "general"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=5,
        objection_window_days=30,
        barred_penalty_types=[],
        legal_basis="企业经营异常名录管理暂行办法; removal within 5 working days",
    ),
    ("abnormal_operations", "serious"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=5,
        objection_window_days=30,
        barred_penalty_types=[],
        legal_review_required=True,
        legal_basis="企业经营异常名录管理暂行办法; removal within 5 working days",
    ),
    ("dishonest_debtor", "minor"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=3,
        objection_review_days=15,
        barred_penalty_types=[],
        legal_basis="最高人民法院关于公布失信被执行人名单信息的若干规定; deletion within 3 working days",
    ),
    ("dishonest_debtor", "general"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=3,
        objection_review_days=15,
        barred_penalty_types=[],
        legal_basis="最高人民法院关于公布失信被执行人名单信息的若干规定; deletion within 3 working days",
    ),
    ("dishonest_debtor", "serious"): dict(
        min_publication_months=0,
        max_publication_months=None,
        restoration_review_days=3,
        objection_review_days=15,
        barred_penalty_types=[],
        legal_review_required=True,
        legal_basis="最高人民法院关于公布失信被执行人名单信息的若干规定; deletion within 3 working days",
    ),
    ("sector_blacklist", "minor"): dict(
        min_publication_months=3, max_publication_months=12, restoration_review_days=5
    ),
    ("sector_blacklist", "general"): dict(
        min_publication_months=6, max_publication_months=24, restoration_review_days=10
    ),
    ("sector_blacklist", "serious"): dict(
        min_publication_months=12,
        max_publication_months=36,
        restoration_review_days=10,
        legal_review_required=True,
        signers_required=2,
    ),
}

RULE_DEFAULTS = dict(
    acceptance_days=3,
    materials_days=10,
    objection_review_days=20,
    letter_service_days=7,
    removal_days=3,
    required_materials=BASIC_MATERIALS,
    barred_penalty_types=BARRED,
    legal_review_required=False,
    signers_required=1,
    legal_basis="",
    objection_window_days=None,
)


def seed_national_defaults(ListType, RuleSet) -> None:
    """Create the list types and version 1 of each national rule set, if missing."""
    for code, name, name_en in LIST_TYPES:
        ListType.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en})
    for (list_code, severity), fields in NATIONAL_RULES.items():
        list_type = ListType.objects.get(code=list_code)
        if RuleSet.objects.filter(list_type=list_type, severity=severity, agency=None).exists():
            continue
        RuleSet.objects.create(
            list_type=list_type,
            severity=severity,
            agency=None,
            version=1,
            effective_from=NATIONAL_EFFECTIVE_FROM,
            note="National default seeded from DOMAIN.md.",
            **{**RULE_DEFAULTS, **fields},
        )
