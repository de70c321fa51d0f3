"""The dated rule versions Redress ships, each figure with the article it comes from.

Read from the primary texts in ``shared/law`` as GUIDE.md §11 (seed table) and §12
(Order 58 vs Order 36) tag them. Only figures tagged [TEXT] or [EXCERPT] are seeded; a
figure the guide marks [SECONDARY] or [unconfirmed] stays empty (``None``), and the
version's note says so: an administrator configures it (an agency's own version wins,
``cases.rules.rule_set_in_force``) before a case needs it, and until then a step that
needs it is refused with ``no_rule_figure`` rather than run on an invented number.

Every seeded value is a ``V(value, *citations)``; a value without a citation is a
setting of Redress, not of the law (``REDRESS_SETTINGS``), and the note says so too.
Loaded by the data migration ``cases/0025_rules_seed_versions`` (which replaces the
invented 2019 defaults) and by the test suite's reference data.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cases.law import INSTRUMENTS, cite

D = datetime.date

LIST_TYPES = [
    ("penalty_publication", "行政处罚信息公示", "Published administrative penalty"),
    ("serious_dishonesty", "严重违法失信名单", "Serious illegal and dishonest enterprises"),
    ("abnormal_operations", "经营异常名录", "Abnormal business operations"),
    ("dishonest_debtor", "失信被执行人", "Dishonest judgment debtors"),
    ("sector_blacklist", "行业黑名单", "Sector blacklist"),
]
# Lists Redress itself publishes on, not an agency's: a revoked restoration's decision is
# published for 3 years (Order 36 Art. 25, SAMR Order 107 Art. 23; decision 0016). Added by
# migration 0021, and kept here so that a flushed test database gets it back too.
SYSTEM_LIST_TYPES = [
    (
        "revocation_decision",
        "撤销信用修复决定",
        "Revoked credit restoration",
        "撤销准予信用修复的决定，公示三年且不得提前停止公示"
        "（《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条）。",
    ),
]
TIERS = ("minor", "general", "serious")
# How a decision on a record of the list is challenged (ListType.remedy); others: administrative.
LIST_REMEDIES = {"dishonest_debtor": "higher_court"}

# Fields that are Redress's own process settings (DOMAIN.md "The route"), not figures of
# an instrument: seeded without a citation.
REDRESS_SETTINGS = frozenset(
    {"materials_days", "legal_review_required", "signers_required", "required_materials"}
)
# Fields a version leaves empty when its instrument gives no confirmed figure.
NULLABLE_FIGURES = (
    "min_publication_months",
    "max_publication_months",
    "acceptance_days",
    "materials_days",
    "objection_review_days",
    "restoration_review_days",
    "letter_service_days",
    "removal_days",
    "extension_days",
)


@dataclass(frozen=True)
class V:
    """A seeded value and the articles it rests on."""

    value: object
    cites: tuple = ()

    def __init__(self, value, *cites):
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "cites", tuple(cites))


@dataclass
class Version:
    """One dated version, seeded for each of ``list_types`` and each tier in ``tiers``."""

    list_types: tuple[str, ...]
    instrument: str
    effective_from: datetime.date
    effective_until: datetime.date | None
    note: str
    common: dict = field(default_factory=dict)
    tiers: dict = field(default_factory=dict)  # tier -> fields (every tier in TIERS)
    sector: str = ""

    def rows(self):
        """(list_type, tier, fields, citations) for each row this version seeds."""
        for list_type in self.list_types:
            for tier in TIERS:
                values = {**self.common, **self.tiers.get(tier, {})}
                fields, citations = {}, {}
                for name, v in values.items():
                    if isinstance(v, V):
                        fields[name] = v.value
                        if v.cites:
                            citations[name] = list(v.cites)
                    else:
                        fields[name] = v
                yield list_type, tier, fields, citations


N36, N58, S107, S44 = "ndrc36", "ndrc58", "samr107", "samr44"
ABN, SPC, APL = "abnormal", "spc_debtors", "apl"

MATERIALS = ["commitment_letter", "fulfilment_proof"]
# The serious tier of every version is legally reviewed and signed by two officials:
# Redress's route for serious cases (DOMAIN.md), not a figure of the instruments.
SERIOUS_SAFEGUARDS = dict(legal_review_required=True, signers_required=2)

# What Order 58 (in force 2023-05-01 to 2026-03-31) leaves unknown: GUIDE §12 and §13.2
# confirm only its Arts. 1–3 [EXCERPT]; every figure is [SECONDARY] or [unconfirmed].
_UNCONFIRMED = {name: None for name in NULLABLE_FIGURES}

ORDER_58 = Version(
    list_types=("penalty_publication", "sector_blacklist"),
    instrument=N58,
    effective_from=D(2023, 5, 1),
    effective_until=D(2026, 3, 31),  # repealed from 2026-04-01 (Order 36 Art. 30)
    note=(
        "NDRC Order No. 58 (2023), repealed from 2026-04-01 by Order 36 Art. 30. Only its "
        "Arts. 1–3 were read [EXCERPT]; its periods and deadlines are known only from "
        "secondary sources (GUIDE §12, §13.2), so they are left empty: an agency that "
        "decides cases under Order 58 configures its own version with the figures it "
        "applied. Until then such a step is refused rather than run on a guess."
    ),
    common={
        **_UNCONFIRMED,
        "materials_days": 10,
        "required_materials": MATERIALS,
        "barred_penalty_types": [],
    },
    tiers={"serious": SERIOUS_SAFEGUARDS},
)

# Order 36 (from 2026-04-01): the national default for every dishonesty information on
# the credit platform websites (Arts. 4–5), unless a sector standard prevails (Art. 11).
_ORDER_36_COMMON = dict(
    acceptance_days=V(3, cite(N36, 16, 2)),
    restoration_review_days=V(7, cite(N36, 16, 3)),
    extension_days=V(10, cite(N36, 16, 3)),
    extension_needs_head_approval=V(False, cite(N36, 16, 3)),
    objection_review_days=V(7, cite(N36, 18)),
    temporary_restoration_days=V(10, cite(N36, 20)),
    revocation_publication_months=V(36, cite(N36, 25)),
    revocation_bar_months=V(36, cite(N36, 25)),
    barred_penalty_types=V([], cite(N36, 2)),
    natural_persons_published=V(False, cite(N36, 12)),
    auto_end=V(True, cite(N36, 12)),
    required_materials=V(MATERIALS, cite(N36, 15)),
    # The withdrawal of a published decision within 3 working days (APL Art. 48) and
    # service within 7 (APL Art. 61), as DOMAIN.md's route applies them.
    removal_days=V(3, cite(APL, 48)),
    letter_service_days=V(7, cite(APL, 61)),
    materials_days=10,
)

ORDER_36 = Version(
    list_types=("penalty_publication", "sector_blacklist"),
    instrument=N36,
    effective_from=D(2026, 4, 1),
    effective_until=None,
    note=(
        "NDRC Order No. 36, in force 2026-04-01 (Art. 30). The time the applicant has to "
        "supply missing materials (materials_days), legal review and the number of signers "
        "are Redress's settings, not figures of the Measures; the Measures set no deadline "
        "for the one request for missing materials (Art. 16(2)). Money thresholds for "
        "smaller, larger and huge fines (Arts. 8–10) are each sector's: configure them."
    ),
    common=_ORDER_36_COMMON,
    tiers={
        "minor": dict(
            published=V(False, cite(N36, 12)),
            min_publication_months=V(0, cite(N36, 12)),
            max_publication_months=V(3, cite(N36, 12)),
        ),
        "general": dict(
            min_publication_months=V(3, cite(N36, 12)),
            max_publication_months=V(12, cite(N36, 12)),
        ),
        "serious": dict(
            min_publication_months=V(12, cite(N36, 12)),
            max_publication_months=V(36, cite(N36, 12)),
            **SERIOUS_SAFEGUARDS,
        ),
    },
)

# SAMR Order 107 (from 2025-12-25): the market-regulation sector standard, which prevails
# for its records (Order 36 Art. 11).
_SAMR_107_COMMON = dict(
    acceptance_days=V(2, cite(S107, 14)),
    materials_notice_days=V(2, cite(S107, 14)),
    refusal_needs_head_approval=V(True, cite(S107, 14), cite(S107, 17)),
    restoration_review_days=V(7, cite(S107, 16)),
    extension_days=V(10, cite(S107, 16)),
    extension_needs_head_approval=V(True, cite(S107, 16)),
    removal_days=V(3, cite(S107, 17)),
    temporary_restoration_days=V(7, cite(S107, 22)),
    revocation_publication_months=V(36, cite(S107, 23)),
    revocation_bar_months=V(36, cite(S107, 23)),
    required_materials=V(MATERIALS, cite(S107, 14)),
    barred_penalty_types=V([], cite(S107, 6)),
    minor_fine_limit_business=V(50000, cite(S107, 7)),
    minor_fine_limit_person=V(5000, cite(S107, 7)),
    auto_end=V(True, cite(S107, 7), cite(S107, 8), cite(S107, 9)),
    letter_service_days=V(7, cite(APL, 61)),
    objection_review_days=None,  # Order 107 sets none; Order 36 Art. 18 from 2026-04-01
    materials_days=10,
)
_SAMR_107_TIERS = {
    "minor": dict(
        never_published_penalty_types=V(["warning"], cite(S107, 7)),
        # Other minor information ends by itself after 3 months; no application is
        # provided for, so none is possible earlier.
        min_publication_months=V(3, cite(S107, 7)),
        max_publication_months=V(3, cite(S107, 7)),
    ),
    "general": dict(
        min_publication_months=V(3, cite(S107, 9)),
        max_publication_months=V(12, cite(S107, 9)),
    ),
    "serious": dict(
        min_publication_months=V(12, cite(S107, 8)),
        max_publication_months=V(36, cite(S107, 8)),
        no_early_repair_penalty_types=V(
            ["licence_revocation", "qualification_downgrade", "closure"], cite(S107, 8, item=3)
        ),
        **SERIOUS_SAFEGUARDS,
    ),
}
_SAMR_NOTE = (
    "SAMR Order No. 107, in force 2025-12-25: the market-regulation standard prevails for "
    "its records (Order 36 Art. 11). It sets no deadline for checking an objection; from "
    "2026-04-01 Order 36 Art. 18 (7 working days) applies, before that the agency "
    "configures one. materials_days, legal review and signers are Redress's settings."
)
SAMR_107 = Version(
    list_types=("penalty_publication",),
    sector="market_regulation",
    instrument=S107,
    effective_from=D(2025, 12, 25),
    effective_until=D(2026, 3, 31),
    note=_SAMR_NOTE,
    common=_SAMR_107_COMMON,
    tiers=_SAMR_107_TIERS,
)
SAMR_107_WITH_ORDER_36 = Version(
    list_types=("penalty_publication",),
    sector="market_regulation",
    instrument=S107,
    effective_from=D(2026, 4, 1),
    effective_until=None,
    note=_SAMR_NOTE,
    common={**_SAMR_107_COMMON, "objection_review_days": V(7, cite(N36, 18))},
    tiers=_SAMR_107_TIERS,
)

# The serious list (SAMR Order 44): one set of figures whatever tier a record carries
# (every entry is serious, Order 36 Art. 10(3)).
_SERIOUS_LIST_COMMON = dict(
    min_publication_months=V(12, cite(S44, 16)),
    max_publication_months=V(36, cite(S44, 21)),
    auto_end=V(True, cite(S44, 21)),
    acceptance_days=V(2, cite(S44, 17)),
    restoration_review_days=V(15, cite(S44, 17)),
    removal_days=V(3, cite(S44, 18)),
    required_materials=V(MATERIALS, cite(S44, 17)),
    barred_penalty_types=V([], cite(S44, 16)),
    letter_service_days=V(7, cite(APL, 61)),
    objection_review_days=None,  # Art. 13: with the penalty procedure; no figure
    extension_days=None,  # Order 44 provides no extension
    materials_days=10,
    **SERIOUS_SAFEGUARDS,
)
SERIOUS_LIST_44 = Version(
    list_types=("serious_dishonesty",),
    instrument=S44,
    effective_from=D(2021, 9, 1),
    effective_until=D(2025, 12, 24),
    note=(
        "SAMR Order No. 44 (in force 2021-09-01). It sets no deadline for an objection "
        "(Art. 13 runs it with the penalty procedure) and no extension: configure them."
    ),
    common=_SERIOUS_LIST_COMMON,
)
_SERIOUS_LIST_107 = dict(
    _SERIOUS_LIST_COMMON,
    min_publication_months=V(12, cite(S107, 13), cite(S44, 16)),
    max_publication_months=V(36, cite(S107, 13), cite(S44, 21)),
    auto_end=V(True, cite(S107, 13), cite(S44, 21)),
    acceptance_days=V(2, cite(S107, 14), cite(S44, 17)),
    materials_notice_days=V(2, cite(S107, 14)),
    refusal_needs_head_approval=V(True, cite(S107, 14), cite(S107, 17)),
    restoration_review_days=V(7, cite(S107, 16)),
    extension_days=V(10, cite(S107, 16)),
    extension_needs_head_approval=V(True, cite(S107, 16)),
    removal_days=V(3, cite(S107, 17), cite(S44, 18)),
    temporary_restoration_days=V(7, cite(S107, 22)),
    revocation_publication_months=V(36, cite(S107, 23)),
    revocation_bar_months=V(36, cite(S107, 23)),
    required_materials=V(MATERIALS, cite(S107, 14), cite(S44, 17)),
    barred_penalty_types=V([], cite(S107, 13)),
)
_SERIOUS_LIST_107_NOTE = (
    "SAMR Order No. 44's list under SAMR Order No. 107's procedure from 2025-12-25 (the "
    "later rule of the same body prevails for its Art. 17 deadlines: GUIDE §5)."
)
SERIOUS_LIST_107 = Version(
    list_types=("serious_dishonesty",),
    instrument=S44,
    effective_from=D(2025, 12, 25),
    effective_until=D(2026, 3, 31),
    note=_SERIOUS_LIST_107_NOTE + " No objection deadline before Order 36: configure one.",
    common=_SERIOUS_LIST_107,
)
SERIOUS_LIST_107_WITH_ORDER_36 = Version(
    list_types=("serious_dishonesty",),
    instrument=S44,
    effective_from=D(2026, 4, 1),
    effective_until=None,
    note=_SERIOUS_LIST_107_NOTE + " Objections are checked under Order 36 Art. 18.",
    common={**_SERIOUS_LIST_107, "objection_review_days": V(7, cite(N36, 18))},
)

# The abnormal-operations list (Order 68 as revised by SAMR Order 101): removal once the
# ground is cured, no automatic end (Order 107 Art. 6: the list's own rules prevail).
_ABNORMAL_COMMON = dict(
    min_publication_months=V(0, cite(ABN, 11), cite(ABN, 12), cite(ABN, 13), cite(ABN, 14)),
    max_publication_months=None,
    auto_end=V(False, cite(ABN, 11)),
    objection_window_days=V(30, cite(ABN, 15)),
    acceptance_days=V(5, cite(ABN, 15)),
    objection_review_days=V(20, cite(ABN, 15)),
    restoration_review_days=V(5, cite(ABN, 11), cite(ABN, 12), cite(ABN, 13), cite(ABN, 14)),
    removal_days=V(5, cite(ABN, 15)),
    barred_penalty_types=V([], cite(ABN, 11)),
    letter_service_days=V(7, cite(APL, 61)),
    extension_days=None,
    required_materials=[],
    materials_days=10,
)
ABNORMAL_68 = Version(
    list_types=("abnormal_operations",),
    instrument=ABN,
    # The date of the 2025 revision; its entry into force is unconfirmed (GUIDE §13.6).
    effective_from=D(2025, 3, 18),
    effective_until=D(2025, 12, 24),
    note=(
        "Order 68 as revised by SAMR Order 101 (2025-03-18; the revision's entry into force "
        "is unconfirmed, GUIDE §13.6). acceptance_days is the objection's (Art. 15)."
    ),
    common=_ABNORMAL_COMMON,
)
ABNORMAL_107 = Version(
    list_types=("abnormal_operations",),
    instrument=ABN,
    effective_from=D(2025, 12, 25),
    effective_until=None,
    note=(
        "Order 68/101 with SAMR Order No. 107's removal procedure from 2025-12-25 (GUIDE "
        "§6.1). The objection route (30 days, 5 and 20 working days, Art. 15) stays. "
        "acceptance_days is the objection's 5 working days; an application for removal is "
        "accepted within 2 (Order 107 Art. 14, materials_notice_days)."
    ),
    common=dict(
        _ABNORMAL_COMMON,
        materials_notice_days=V(2, cite(S107, 14)),
        refusal_needs_head_approval=V(True, cite(S107, 14), cite(S107, 17)),
        restoration_review_days=V(2, cite(S107, 16)),
        extension_days=V(10, cite(S107, 16)),
        extension_needs_head_approval=V(True, cite(S107, 16)),
        removal_days=V(3, cite(S107, 17)),
        temporary_restoration_days=V(7, cite(S107, 22)),
        revocation_publication_months=V(36, cite(S107, 23)),
        revocation_bar_months=V(36, cite(S107, 23)),
    ),
)

# The court's list of dishonest judgment debtors (SPC, 2017 amendment): no administrative
# publication period; its 15-day review counts calendar days (GUIDE §0.2).
DEBTORS = Version(
    list_types=("dishonest_debtor",),
    instrument=SPC,
    effective_from=D(2017, 5, 1),  # the 2017 amendment; believed 2017-05-01 (GUIDE §13.6)
    effective_until=None,
    note=(
        "SPC Provisions (2017 amendment). The list has no administrative publication period: "
        "a term, where the court set one, is the record's own (term_ends_on). The court "
        "reviews an objection within 15 days of the written application (calendar days): "
        "the acceptance check and the review each get those 15 days here; the court's "
        "practice may be shorter."
    ),
    common=dict(
        min_publication_months=V(0, cite(SPC, 2)),
        max_publication_months=None,
        auto_end=V(True, cite(SPC, 10, 2)),
        acceptance_days=V(15, cite(SPC, 12)),
        objection_review_days=V(15, cite(SPC, 12)),
        day_kinds=V(
            {"acceptance_days": "calendar", "objection_review_days": "calendar"},
            cite(SPC, 12),
        ),
        restoration_review_days=V(3, cite(SPC, 10)),
        removal_days=V(3, cite(SPC, 9), cite(SPC, 10), cite(SPC, 12)),
        barred_penalty_types=V([], cite(SPC, 10)),
        required_materials=[],
        letter_service_days=None,
        extension_days=None,
        materials_days=10,
    ),
)

# The published decision revoking a restoration (a record on the list Redress publishes
# itself, decision 0016): 3 years with no early end and no repair (Order 36 Art. 25).
# Its objection runs as any other under Order 36 Art. 18, so a party who says the
# decision's content or period is wrong is heard; nothing here offers a restoration or
# a temporary shielding of it, which would end the publication early.
REVOCATION_DECISION_36 = Version(
    list_types=("revocation_decision",),
    instrument=N36,
    effective_from=D(2026, 4, 1),
    effective_until=None,
    note=(
        "The published decision revoking a credit restoration (NDRC Order No. 36 Art. 25; "
        "for market-regulation records also SAMR Order No. 107 Art. 23 ¶2): published for "
        "3 years and not ended early, so no restoration is possible before it ends by "
        "itself. An objection to it (wrong content or period) is checked within 7 working "
        "days under Art. 18; acceptance follows Art. 16 as for the list it came from. "
        "materials_days, legal review and signers are Redress's settings."
    ),
    common=dict(
        _ORDER_36_COMMON,
        min_publication_months=V(36, cite(N36, 25)),
        max_publication_months=V(36, cite(N36, 25)),
        no_early_repair_penalty_types=V(["listing"], cite(N36, 25)),
        auto_end=V(True, cite(N36, 25)),
        objection_review_days=V(7, cite(N36, 18)),
        temporary_restoration_days=None,
        revocation_publication_months=None,
        revocation_bar_months=None,
    ),
    tiers={"serious": SERIOUS_SAFEGUARDS},
)

VERSIONS = (
    ORDER_58,
    ORDER_36,
    SAMR_107,
    SAMR_107_WITH_ORDER_36,
    SERIOUS_LIST_44,
    SERIOUS_LIST_107,
    SERIOUS_LIST_107_WITH_ORDER_36,
    ABNORMAL_68,
    ABNORMAL_107,
    DEBTORS,
    REVOCATION_DECISION_36,
)


def seed_rows():
    """Every row the seeds make: dicts of RuleSet fields (list type as its code)."""
    for version in VERSIONS:
        for list_type, tier, fields, citations in version.rows():
            yield {
                "list_type": list_type,
                "severity": tier,
                "sector": version.sector,
                "instrument": version.instrument,
                "effective_from": version.effective_from,
                "effective_until": version.effective_until,
                "note": version.note,
                "citations": citations,
                **fields,
            }


def seed_rule_versions(ListType, RuleSet) -> list:
    """Create the list types and every seeded version that is missing; returns those made.

    Works with the real models and with a migration's historical ones. A version is
    identified by its scope (list type, tier, sector, national) and its first day; the
    next version number of its scope is taken.
    """
    has_remedy = any(f.name == "remedy" for f in ListType._meta.get_fields())
    for code, name, name_en in LIST_TYPES:
        defaults = {"name": name, "name_en": name_en}
        if has_remedy:
            # A court's list of dishonest debtors is challenged before the next higher court
            # within 10 days (SPC rules Art. 12), not by administrative reconsideration.
            defaults["remedy"] = LIST_REMEDIES.get(code, "administrative")
        ListType.objects.update_or_create(code=code, defaults=defaults)
    for code, name, name_en, description in SYSTEM_LIST_TYPES:
        ListType.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "description": description}
        )
    list_types = {lt.code: lt for lt in ListType.objects.all()}
    made = []
    for row in seed_rows():
        row = dict(row)
        list_type = list_types[row.pop("list_type")]
        scope = RuleSet.objects.filter(
            list_type=list_type, severity=row["severity"], agency=None, sector=row["sector"]
        )
        if scope.filter(effective_from=row["effective_from"]).exists():
            continue
        version = max(scope.values_list("version", flat=True), default=0) + 1
        legal_basis = _legal_basis(row["instrument"])
        made.append(
            RuleSet.objects.create(
                list_type=list_type, agency=None, version=version, legal_basis=legal_basis, **row
            )
        )
    return made


# The tests' reference data and older callers name it so.
seed_national_defaults = seed_rule_versions


def _legal_basis(instrument: str) -> str:
    source = INSTRUMENTS[instrument]
    return f"《{source.title}》（{source.number}）"


# The punishment measures a court's list of dishonest judgment debtors carries: the
# court notifies the bodies concerned, which apply them in government procurement,
# bidding, financing and credit, market access (《最高人民法院关于公布失信被执行人名单
# 信息的若干规定》第八条); the court itself restricts high consumption. A repair asks
# each platform that applies a measure to lift it (《信用修复管理办法》第三条). Agencies
# edit the catalogue in the admin.
MEASURES = [
    (
        "dishonest_debtor",
        "high_consumption",
        "限制高消费",
        "Restriction on high consumption",
        "人民法院",
        "",
    ),
    (
        "dishonest_debtor",
        "procurement",
        "限制参与政府采购",
        "Exclusion from government procurement",
        "政府采购监督管理部门",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第八条",
    ),
    (
        "dishonest_debtor",
        "bidding",
        "限制参与招标投标",
        "Exclusion from bidding",
        "招标投标行政监督部门",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第八条",
    ),
    (
        "dishonest_debtor",
        "financing",
        "限制融资信贷",
        "Restriction on financing and credit",
        "金融监管机构及金融机构",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第八条",
    ),
    (
        "dishonest_debtor",
        "market_access",
        "限制市场准入和资质认定",
        "Restriction on market access and qualifications",
        "行政审批部门",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》第八条",
    ),
]


# The bodies that apply the seeded and demo measures, named in English for English pages
# and letters (``Measure.applied_by_en``).
APPLIED_BY_EN = {
    "人民法院": "People's courts",
    "政府采购监督管理部门": "Government procurement supervisory authorities",
    "招标投标行政监督部门": "Administrative supervisors of bidding",
    "金融监管机构及金融机构": "Financial regulators and financial institutions",
    "行政审批部门": "Administrative approval authorities",
    "市场监督管理部门": "Market regulation authorities",
}


def seed_measures(ListType, Measure) -> None:
    """Create the catalogue's seeded measures that are missing (real or historical models)."""
    list_types = {lt.code: lt for lt in ListType.objects.all()}
    # A historical model from before the English applying body has no such field.
    in_english = any(f.name == "applied_by_en" for f in Measure._meta.get_fields())
    for list_code, code, name, name_en, applied_by, legal_basis in MEASURES:
        if list_code not in list_types:
            continue
        defaults = {
            "name": name,
            "name_en": name_en,
            "applied_by": applied_by,
            "legal_basis": legal_basis,
        }
        if in_english:
            defaults["applied_by_en"] = APPLIED_BY_EN[applied_by]
        Measure.objects.get_or_create(list_type=list_types[list_code], code=code, defaults=defaults)
