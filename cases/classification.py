"""A record's tier and its periods, as the rules write them. Pure functions, no database.

Tier (Order 36 Arts. 7–11; for market regulation SAMR Order 107 Arts. 6–9): from the
penalty types, the fine against the sector's minor-fine limit, the procedure and the
list. Periods (Order 36 Art. 12; SAMR Order 107 Arts. 7–8): the earliest day a repair
may be asked for and the day publication ends by itself, from the decision date, under
the figures of the rule version in force (``cases.rules`` picks it and passes it in).

Each result carries the citations it rests on, so the pages, the API and the letters
can say why.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from cases.law import Citation

MINOR, GENERAL, SERIOUS = "minor", "general", "serious"
TIER_ORDER = {MINOR: 0, GENERAL: 1, SERIOUS: 2}

# Penalty types whose tier the rules fix (Order 36 Arts. 8–10; SAMR Order 107 Arts. 7–8).
PENALTY_TIERS = {
    "warning": (MINOR, Citation("ndrc36", 8, item=2)),
    "criticism": (MINOR, Citation("ndrc36", 8, item=2)),
    "confiscation": (GENERAL, Citation("ndrc36", 9, item=2)),
    "licence_suspension": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "qualification_downgrade": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "licence_revocation": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "business_restriction": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "suspension": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "closure": (SERIOUS, Citation("ndrc36", 10, item=2)),
    "practice_restriction": (SERIOUS, Citation("ndrc36", 10, item=2)),
}
SAMR_PENALTY_CITES = {
    "warning": Citation("samr107", 7, item=1),
    "criticism": Citation("samr107", 7, item=2),
    "business_restriction": Citation("samr107", 8, item=2),
    "suspension": Citation("samr107", 8, item=2),
    "practice_restriction": Citation("samr107", 8, item=2),
    "licence_revocation": Citation("samr107", 8, item=3),
    "qualification_downgrade": Citation("samr107", 8, item=3),
    "closure": Citation("samr107", 8, item=3),
}
# Lists whose membership fixes the tier.
LIST_TIERS = {
    "serious_dishonesty": (SERIOUS, Citation("ndrc36", 10, item=3)),
    "sector_blacklist": (SERIOUS, Citation("ndrc36", 10, item=3)),
    "abnormal_operations": (MINOR, Citation("ndrc36", 8, item=3)),
}


@dataclass(frozen=True)
class Classification:
    """A derived tier (None: the data do not decide it) and the articles it rests on."""

    tier: str | None
    basis: tuple[Citation, ...] = ()


def classify(
    *,
    list_type: str,
    penalty_types: list[str] | tuple[str, ...],
    fine_amount: Decimal | None = None,
    natural_person: bool = False,
    procedure: str = "ordinary",
    minor_fine_limit_business: Decimal | None = None,
    minor_fine_limit_person: Decimal | None = None,
    market_regulation: bool = False,
) -> Classification:
    """The tier of a record, or ``Classification(None)`` where the data do not decide it.

    - list membership: the serious list and a sector's blacklist are serious (Order 36
      Art. 10(3)); the abnormal list is minor (Art. 8(3)); the court's list has no tier;
    - the simplified procedure makes a penalty minor (Art. 8(1); APL Art. 51);
    - warnings and circulated criticism are minor (Art. 8(2); SAMR Art. 7);
    - a fine up to the sector's limit is minor (SAMR Order 107 Art. 7(3): 50,000 on a
      business, 5,000 on a person), above it general (Art. 9(1); SAMR Art. 9); without a
      limit the fine's tier is the sector's to say, so it is not derived;
    - confiscation is general (Art. 9(2)); suspension or revocation of a licence, a lower
      grade, restriction, stop orders, closure and practising bans are serious (Art. 10(2);
      SAMR Art. 8(2)–(3));
    - several penalties: the highest tier, whose period is the longest (Art. 12; SAMR
      Art. 6). One penalty whose tier is not derived leaves the whole undecided, unless
      another is already serious.
    """
    if list_type in LIST_TIERS:
        tier, basis = LIST_TIERS[list_type]
        return Classification(tier, (basis,))
    if list_type != "penalty_publication" or not penalty_types:
        return Classification(None)
    if procedure == "simplified":
        return Classification(MINOR, (Citation("ndrc36", 8, item=1), Citation("apl", 51)))
    found: list[tuple[str | None, Citation | None]] = []
    for penalty in dict.fromkeys(penalty_types):
        if penalty == "fine":
            found.append(
                _fine_tier(
                    fine_amount,
                    minor_fine_limit_person if natural_person else minor_fine_limit_business,
                    market_regulation,
                )
            )
        elif penalty in PENALTY_TIERS:
            tier, basis = PENALTY_TIERS[penalty]
            if market_regulation and penalty in SAMR_PENALTY_CITES:
                basis = SAMR_PENALTY_CITES[penalty]
            found.append((tier, basis))
        else:
            found.append((None, None))
    if any(tier == SERIOUS for tier, _ in found):
        return Classification(SERIOUS, tuple(b for t, b in found if t == SERIOUS))
    if any(tier is None for tier, _ in found):
        return Classification(None)
    top = max((tier for tier, _ in found), key=TIER_ORDER.__getitem__)
    return Classification(top, tuple(b for t, b in found if t == top))


def _fine_tier(amount, limit, market_regulation) -> tuple[str | None, Citation | None]:
    if amount is None or limit is None:
        return None, None
    if Decimal(amount) <= Decimal(limit):
        return MINOR, Citation("samr107", 7, item=3) if market_regulation else Citation(
            "ndrc36", 8, item=3
        )
    return GENERAL, Citation("samr107", 9) if market_regulation else Citation("ndrc36", 9, item=1)


@dataclass(frozen=True)
class Periods:
    """When a record may be repaired and when its publication ends by itself.

    ``restorable_from`` is the earliest day a repair may be asked for (None: the version
    gives no confirmed minimum); ``expires_on`` the day publication ends by itself (None:
    no automatic end). ``published`` is False where the record is not published at all
    (minor information in principle, a SAMR warning never); ``on_credit_china`` is False
    for natural persons (Order 36 Art. 12). ``basis`` maps each of these names to the
    citations it rests on; ``notes`` are codes of what shaped the dates.
    """

    start: datetime.date
    restorable_from: datetime.date | None
    expires_on: datetime.date | None
    published: bool = True
    on_credit_china: bool = True
    basis: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def periods(
    rules,
    *,
    start: datetime.date,
    penalty_types: list[str] | tuple[str, ...] = (),
    natural_person: bool = False,
    term_ends_on: datetime.date | None = None,
) -> Periods:
    """The periods of a record whose period starts on ``start`` under ``rules`` (a RuleSet).

    - from the date of the decision document (Order 36 Art. 7);
    - the minimum and maximum of the record's tier (Art. 12; SAMR Arts. 7–9);
    - a penalty with no early repair (SAMR Art. 8(3)) can be repaired only when its
      maximum ends: the earliest day is the end;
    - a penalty with its own term is not ended, nor repaired, before that term (Art. 12;
      SAMR Art. 8(2)); where the term is longer, publication lasts as long (SAMR Art. 8);
    - a list without a maximum ends with the term, where the version ends publication by
      itself (the court's list, SPC Art. 10(2));
    - not published: minor information in principle (Art. 12), SAMR warnings never (SAMR
      Art. 7); natural persons are not shown on Credit China (Art. 12).
    """
    types = list(penalty_types)
    basis: dict[str, list] = {
        "restorable_from": list(_cited(rules, "min_publication_months")),
        "expires_on": list(_cited(rules, "max_publication_months")),
    }
    notes: list[str] = []
    restorable = (
        start + relativedelta(months=rules.min_publication_months)
        if rules.min_publication_months is not None
        else None
    )
    expires = (
        start + relativedelta(months=rules.max_publication_months)
        if rules.max_publication_months is not None and rules.auto_end
        else None
    )
    if not rules.auto_end:
        basis["expires_on"] = list(_cited(rules, "auto_end"))
    if any(t in rules.no_early_repair_penalty_types for t in types) and expires is not None:
        restorable = expires
        basis["restorable_from"] = list(_cited(rules, "no_early_repair_penalty_types"))
        notes.append("no_early_repair")
    if term_ends_on is not None and rules.max_publication_months is not None:
        if restorable is not None and term_ends_on > restorable:
            restorable = term_ends_on
            notes.append("own_term")
            basis["restorable_from"].append(_term_cite(rules))
        if expires is not None and term_ends_on > expires:
            expires = term_ends_on
            basis["expires_on"].append(_term_cite(rules))
    if term_ends_on is not None and rules.max_publication_months is None and rules.auto_end:
        # A list without a period (the court's) ends with the term it set; the debtor may
        # still be deleted earlier on performing (SPC Arts. 2 and 10).
        expires = term_ends_on
        basis["expires_on"] = list(_cited(rules, "auto_end"))
        notes.append("own_term")
    published = rules.published
    basis["published"] = list(_cited(rules, "published"))
    if types and all(t in rules.never_published_penalty_types for t in types):
        published = False
        basis["published"] = list(_cited(rules, "never_published_penalty_types"))
        notes.append("never_published")
        expires = start
        basis["expires_on"] = basis["published"]
    elif not published:
        notes.append("not_published")
    on_credit_china = not natural_person or rules.natural_persons_published
    if not on_credit_china:
        basis["on_credit_china"] = list(_cited(rules, "natural_persons_published"))
        notes.append("natural_person")
    return Periods(
        start=start,
        restorable_from=restorable,
        expires_on=expires,
        published=published,
        on_credit_china=on_credit_china,
        basis={k: tuple(v) for k, v in basis.items()},
        notes=tuple(dict.fromkeys(notes)),
    )


def _cited(rules, name: str) -> list[Citation]:
    """The citations of a rule field; works on a migration's historical RuleSet too."""
    data = (rules.citations or {}).get(name)
    items = data if isinstance(data, list) else [data] if data else []
    return [Citation.parse(c) for c in items]


def _term_cite(rules) -> Citation:
    if rules.instrument == "samr107":
        return Citation("samr107", 8)
    return Citation("ndrc36", 12)
