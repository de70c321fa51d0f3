"""The domain of Redress: who is listed, where, by whom, and the requests to get off.

Vocabulary follows DOMAIN.md's glossary: a *subject* is listed in a *record* by an
*agency* and re-published on *platforms*; a *case* is an *objection* or a
*restoration* request about one or more records, judged under a *rule set*.

Models hold data and invariants that a single row can check (``clean``); every
state change goes through ``cases.transitions`` so that it is audited.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS as KNOX

from cases.calendar import FACTS_VERSION, NATIONAL, DayOverride, explain_computation
from cases.errors import InvalidIdentifier
from cases.identifiers import validate_subject_code
from cases.law import INSTRUMENT_CHOICES, INSTRUMENTS, Citation, citations_render


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    GENERAL = "general", _("General")
    SERIOUS = "serious", _("Serious")


class PenaltyType(models.TextChoices):
    """Kinds of penalty or listing, as APL Art. 9 and Order 36 Arts. 8–10 name them."""

    WARNING = "warning", _("Warning")
    CRITICISM = "criticism", _("Circulated criticism")
    FINE = "fine", _("Fine")
    CONFISCATION = "confiscation", _("Confiscation of unlawful gains")
    LISTING = "listing", _("Listing")
    LICENCE_SUSPENSION = "licence_suspension", _("Suspension of a licence")
    QUALIFICATION_DOWNGRADE = "qualification_downgrade", _("Lowering of a qualification grade")
    LICENCE_REVOCATION = "licence_revocation", _("Licence revocation")
    BUSINESS_RESTRICTION = "business_restriction", _("Restriction of production or business")
    SUSPENSION = "suspension", _("Order to stop production or business")
    CLOSURE = "closure", _("Order to close")
    PRACTICE_RESTRICTION = "practice_restriction", _("Restriction of practice")


class Procedure(models.TextChoices):
    """The penalty procedure (APL Arts. 51 and 54); simplified penalties are minor."""

    ORDINARY = "ordinary", _("Ordinary procedure")
    SIMPLIFIED = "simplified", _("Simplified procedure")


class DayKind(models.TextChoices):
    """How a period counts: most credit rules say working days; the court rules' 15 and
    10 days are calendar days (GUIDE §0.2)."""

    WORKING = "working", _("working days")
    CALENDAR = "calendar", _("calendar days")


class Material(models.TextChoices):
    """Kinds of supporting material an applicant can be asked for."""

    COMMITMENT_LETTER = "commitment_letter", _("Credit commitment letter (信用承诺书)")
    FULFILMENT_PROOF = "fulfilment_proof", _("Proof the penalty was fulfilled")
    TRAINING_CERTIFICATE = "training_certificate", _("Credit training certificate")
    CREDIT_REPORT = "credit_report", _("Credit report")
    CORRECTION_EVIDENCE = "correction_evidence", _("Evidence that the record is wrong")
    IDENTITY_PROOF = "identity_proof", _("Proof of identity or authorisation")
    # Bankruptcy reorganisation or composition (《信用修复管理办法》第二十条,
    # 《市场监督管理信用修复管理办法》第二十二条): the court's rulings.
    COURT_RULING = (
        "court_ruling",
        _("Court ruling approving the reorganisation plan or composition agreement"),
    )
    COMPLETION_RULING = (
        "completion_ruling",
        _(
            "Court ruling confirming the reorganisation plan or composition agreement was carried out"
        ),
    )
    TERMINATION_RULING = (
        "termination_ruling",
        _("Court ruling terminating the reorganisation plan or composition agreement"),
    )
    OTHER = "other", _("Other")


region_code_validator = RegexValidator(
    r"^\d{6}$", _("A region code is the 6-digit administrative division code, e.g. 440300.")
)


class Sector(models.TextChoices):
    """The field an agency regulates, which picks the rules its records follow."""

    MARKET_REGULATION = "market_regulation", _("Market regulation (SAMR rules)")
    COURT = "court", _("People's court")
    TAX = "tax", _("Tax")
    OTHER = "other", _("Other sector (national rules)")


DEFAULT_DOCUMENT_NUMBER_PATTERN = "〔{year}〕{seq}号"


def document_number_format(pattern: str, *, year: int, seq: int) -> str:
    """A decision's number (文号) from the agency's pattern: 深市监信修〔2026〕7号."""
    return (pattern or DEFAULT_DOCUMENT_NUMBER_PATTERN).format(year=year, seq=seq)


def document_number_pattern_validator(value: str) -> None:
    if not value:
        return
    if "{seq" not in value:
        raise ValidationError(_("The pattern needs {seq}, the decision's number in the year."))
    try:
        document_number_format(value, year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(
            _("The pattern may use only {year} and {seq}: %(error)s") % {"error": exc}
        ) from exc


class LocalizedName:
    """Reference data named in Chinese (``name``) and, where known, in English
    (``name_en``): ``localized_name`` is the one way a page, message or API answer names
    it in the reader's language (the Chinese name in Chinese, and where no English name
    is known)."""

    def localized_name(self, language: str | None = None) -> str:
        language = (language or get_language() or "").lower()
        if language.startswith("zh") or not self.name_en:
            return self.name
        return self.name_en


class Agency(LocalizedName, models.Model):
    """A designating agency (认定单位): owns its records and decides requests about them."""

    code = models.SlugField(
        max_length=32, unique=True, help_text=_("Short code, e.g. SZAMR."), verbose_name=_("code")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    name_en = models.CharField(max_length=200, blank=True, verbose_name=_("name in English"))
    region_code = models.CharField(
        max_length=6, validators=[region_code_validator], verbose_name=_("region code")
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("parent")
    )
    address = models.CharField(max_length=300, blank=True, verbose_name=_("address"))
    address_en = models.CharField(max_length=300, blank=True, verbose_name=_("address in English"))
    reconsideration_body = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Body that hears administrative reconsideration of this agency's decisions."),
        verbose_name=_("reconsideration body"),
    )
    reconsideration_body_en = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Its name as English letters print it."),
        verbose_name=_("reconsideration body in English"),
    )
    court = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Court with jurisdiction over a lawsuit."),
        verbose_name=_("court"),
    )
    court_en = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Its name as English letters print it."),
        verbose_name=_("court in English"),
    )
    document_number_pattern = models.CharField(
        _("document number pattern"),
        max_length=100,
        blank=True,
        validators=[document_number_pattern_validator],
        help_text=_(
            "How the agency numbers its decisions (文号), with {year} and {seq}, e.g. "
            "深市监信修〔{year}〕{seq}号. Empty: 〔{year}〕{seq}号."
        ),
    )
    seal = models.ImageField(upload_to="seals/", blank=True, verbose_name=_("seal"))
    sector = models.CharField(
        _("sector"),
        max_length=24,
        choices=Sector.choices,
        default=Sector.OTHER,
        help_text=_(
            "Which rules govern this agency's records: a sector standard prevails over the "
            "national defaults (《信用修复管理办法》第十一条)."
        ),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name = _("agency")
        ordering = ["code"]
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Platform(LocalizedName, models.Model):
    """A place that publishes, shares or acts on records; a repair must reach every one
    that holds a record, for each effect it is responsible for (《信用修复管理办法》第三条:
    终止公示, 停止共享和使用, 解除失信惩戒措施)."""

    class Kind(models.TextChoices):
        CREDIT_CHINA = "credit_china", _("Credit China (national site)")
        CREDIT_CHINA_LOCAL = "credit_china_local", _("Credit China local site")
        SHARING_PLATFORM = "sharing_platform", _("National credit information sharing platform")
        NECIPS = "necips", _("National Enterprise Credit Information Publicity System (NECIPS)")
        SECTOR = "sector", _("Sector credit system")
        THIRD_PARTY = "third_party", _("Third-party credit service agency")

    code = models.SlugField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    name_en = models.CharField(max_length=200, blank=True, verbose_name=_("name in English"))
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    publishes = models.BooleanField(
        _("publishes"),
        default=True,
        help_text=_("Shows records publicly: asked to end publication (终止公示)."),
    )
    shares = models.BooleanField(
        _("shares"),
        default=False,
        help_text=_("Shares records with others: asked to stop sharing and use (停止共享和使用)."),
    )
    applies_measures = models.BooleanField(
        _("applies measures"),
        default=False,
        help_text=_("Applies punishment measures: asked to lift them (解除失信惩戒措施)."),
    )
    webhook_url = models.URLField(blank=True, verbose_name=_("webhook url"))
    webhook_secret = models.CharField(
        max_length=128,
        blank=True,
        help_text=_(
            "Shared secret for HMAC-SHA256 signatures on webhooks both ways; "
            "leave empty to generate one."
        ),
        verbose_name=_("webhook secret"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name_plural = _("platforms")
        verbose_name = _("platform")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Remedy(models.TextChoices):
    """The route a party takes against a decision about a record of the list."""

    ADMINISTRATIVE = (
        "administrative",
        _("Administrative reconsideration or an administrative lawsuit"),
    )
    HIGHER_COURT = (
        "higher_court",
        _("Reconsideration by the next higher people's court within 10 days (SPC rules Art. 12)"),
    )


class ListType(LocalizedName, models.Model):
    """A list or kind of publication a record can be on."""

    code = models.SlugField(max_length=40, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    name_en = models.CharField(max_length=200, blank=True, verbose_name=_("name in English"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    remedy = models.CharField(
        _("remedy"),
        max_length=20,
        choices=Remedy.choices,
        default=Remedy.ADMINISTRATIVE,
        help_text=_(
            "How a decision about a record of this list is challenged: an administrative act "
            "by reconsideration or suit; a court's list by the next higher court."
        ),
    )

    class Meta:
        verbose_name_plural = _("list types")
        verbose_name = _("list type")
        ordering = ["code"]

    def __str__(self) -> str:
        # In the reader's language: the Chinese admin listed the rule sets' list types and
        # the measures in English.
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name


class Measure(LocalizedName, models.Model):
    """A punishment measure (失信惩戒措施) a list type carries, and the body that applies it;
    a repair asks each platform that applies it to lift it (《信用修复管理办法》第三条)."""

    list_type = models.ForeignKey(
        ListType, on_delete=models.PROTECT, related_name="measures", verbose_name=_("list type")
    )
    code = models.SlugField(max_length=40, verbose_name=_("code"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    name_en = models.CharField(max_length=200, blank=True, verbose_name=_("name in English"))
    applied_by = models.CharField(
        _("applied by"), max_length=200, help_text=_("The body that applies the measure.")
    )
    applied_by_en = models.CharField(
        _("applied by, in English"),
        max_length=200,
        blank=True,
        help_text=_("The body that applies the measure, as English pages and letters name it."),
    )
    platforms = models.ManyToManyField(
        Platform,
        blank=True,
        related_name="measures",
        help_text=_(
            "Where the body applies it, and so lifts it; empty: every platform that "
            "applies measures."
        ),
        verbose_name=_("platforms"),
    )
    is_default = models.BooleanField(
        default=True,
        help_text=_("Linked to every record of the list type imported without a measures column."),
        verbose_name=_("is default"),
    )
    legal_basis = models.CharField(max_length=300, blank=True, verbose_name=_("legal basis"))
    is_active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name_plural = _("measures")
        verbose_name = _("measure")
        ordering = ["list_type__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["list_type", "code"], name="measure_unique_code")
        ]

    def __str__(self) -> str:
        # In the reader's language: the Chinese admin listed the rule sets' list types and
        # the measures in English.
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name

    def localized_applied_by(self, language: str | None = None) -> str:
        """The applying body in the reader's language (as ``localized_name`` names the
        measure): the Chinese name in Chinese, and where no English one is known."""
        language = (language or get_language() or "").lower()
        if language.startswith("zh") or not self.applied_by_en:
            return self.applied_by
        return self.applied_by_en


class PublicationDefault(models.Model):
    """Where an agency's records of a list type are published and shared when an import
    does not say (the ``platforms`` column empty)."""

    agency = models.ForeignKey(
        Agency,
        on_delete=models.CASCADE,
        related_name="publication_defaults",
        verbose_name=_("agency"),
    )
    list_type = models.ForeignKey(
        ListType, on_delete=models.CASCADE, related_name="+", verbose_name=_("list type")
    )
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform")
    )

    class Meta:
        verbose_name_plural = _("publication defaults")
        verbose_name = _("publication default")
        ordering = ["agency__code", "list_type__code", "platform__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "list_type", "platform"], name="publication_default_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency.code} {self.list_type.code} → {self.platform.code}"


FIGURE_NAMES = {
    "min_publication_months": _("Minimum publication before a repair"),
    "max_publication_months": _("Maximum publication (ends by itself)"),
    "acceptance_days": _("Acceptance decision"),
    "objection_review_days": _("Objection check"),
    "restoration_review_days": _("Restoration result"),
    "extension_days": _("One extension"),
    "removal_days": _("Withdrawal from every platform"),
}

# The periods of a record's publication that a restoration runs on, and an objection not.
RESTORATION_PERIODS = ("min_publication_months", "max_publication_months")

UNCONFIRMED_FIGURE = _(
    "Empty: the instrument gives no confirmed figure (GUIDE: secondary or unconfirmed); the "
    "agency must configure its own version before a case needs it."
)


class RuleSet(models.Model):
    """One version of the rules for a list type and severity, in force from a date.

    Rules are data, not code: a region or a year can differ. The version in force
    on a date is the one with the latest ``effective_from`` on or before it, an
    agency's own version winning over the national one. A case keeps the version
    it was accepted under, so a version that a case used is never edited: add a
    new version instead (the admin and ``clean`` enforce this).
    """

    list_type = models.ForeignKey(
        ListType, on_delete=models.PROTECT, related_name="rule_sets", verbose_name=_("list type")
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, verbose_name=_("severity"))
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Leave empty for the national default."),
        verbose_name=_("agency"),
    )
    version = models.PositiveIntegerField(editable=False, verbose_name=_("version"))
    effective_from = models.DateField(verbose_name=_("effective from"))
    effective_until = models.DateField(
        null=True,
        blank=True,
        help_text=_("Last day this version applies (e.g. the day before a repeal); empty if open."),
        verbose_name=_("effective until"),
    )
    instrument = models.CharField(
        max_length=20,
        choices=INSTRUMENT_CHOICES,
        blank=True,
        help_text=_("The instrument this version implements."),
        verbose_name=_("instrument"),
    )
    sector = models.CharField(
        max_length=24,
        choices=Sector.choices,
        blank=True,
        help_text=_(
            "Empty: any agency. A sector's version prevails for agencies of that sector "
            "(《信用修复管理办法》第十一条)."
        ),
        verbose_name=_("sector"),
    )
    citations = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "The article each value comes from, by field name: "
            '{"min_publication_months": [{"instrument": "ndrc36", "article": 12}]}.'
        ),
        verbose_name=_("citations"),
    )
    legal_basis = models.CharField(max_length=300, blank=True, verbose_name=_("legal basis"))

    min_publication_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=format_lazy(
            "{} {}",
            _("Restoration may be requested only after this period (0: at once)."),
            UNCONFIRMED_FIGURE,
        ),
        verbose_name=_("min publication months"),
    )
    max_publication_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Automatic expiry; empty when there is none."),
        verbose_name=_("max publication months"),
    )
    acceptance_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=3,
        help_text=format_lazy(
            "{} {}", _("Working days for the acceptance check."), UNCONFIRMED_FIGURE
        ),
        verbose_name=_("acceptance days"),
    )
    materials_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=10,
        help_text=format_lazy(
            "{} {}",
            _("Working days the applicant has to supply missing materials."),
            UNCONFIRMED_FIGURE,
        ),
        verbose_name=_("materials days"),
    )
    objection_review_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=20,
        help_text=format_lazy(
            "{} {}", _("Working days to decide an objection once accepted."), UNCONFIRMED_FIGURE
        ),
        verbose_name=_("objection review days"),
    )
    restoration_review_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=10,
        help_text=format_lazy(
            "{} {}", _("Working days to decide a restoration once accepted."), UNCONFIRMED_FIGURE
        ),
        verbose_name=_("restoration review days"),
    )
    letter_service_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=7,
        help_text=format_lazy(
            "{} {}", _("Working days to serve the decision letter."), UNCONFIRMED_FIGURE
        ),
        verbose_name=_("letter service days"),
    )
    removal_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=3,
        help_text=format_lazy(
            "{} {}",
            _("Working days for every platform to withdraw the record."),
            UNCONFIRMED_FIGURE,
        ),
        verbose_name=_("removal days"),
    )
    required_materials = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Material codes a restoration must include."),
        verbose_name=_("required materials"),
    )
    barred_penalty_types = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Penalty types that cannot be restored."),
        verbose_name=_("barred penalty types"),
    )
    objection_window_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Calendar days after listing within which an objection may be filed."),
        verbose_name=_("objection window days"),
    )
    legal_review_required = models.BooleanField(
        default=False, verbose_name=_("legal review required")
    )
    signers_required = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], verbose_name=_("signers required")
    )

    # -- classification and publication (Order 36 Arts. 8–12, SAMR Order 107 Arts. 6–10)
    published = models.BooleanField(
        default=True,
        help_text=_("Whether records of this tier are published at all (minor: not in principle)."),
        verbose_name=_("published"),
    )
    never_published_penalty_types = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Penalty types never published, e.g. a SAMR warning (Order 107 Art. 7)."),
        verbose_name=_("never published penalty types"),
    )
    natural_persons_published = models.BooleanField(
        default=True,
        help_text=_(
            "Whether information about natural persons goes on Credit China "
            "(not in principle: 《信用修复管理办法》第十二条)."
        ),
        verbose_name=_("natural persons published"),
    )
    no_early_repair_penalty_types = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Penalty types with no early repair: publication ends only at the maximum period "
            "(e.g. SAMR Order 107 Art. 8(3))."
        ),
        verbose_name=_("no early repair penalty types"),
    )
    minor_fine_limit_business = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "A fine up to this amount on a business is minor (SAMR: 50,000). Empty: "
            "the sector has not set one; configure the agency's own figure."
        ),
        verbose_name=_("minor fine limit business"),
    )
    minor_fine_limit_person = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("A fine up to this amount on a person is minor (SAMR: 5,000)."),
        verbose_name=_("minor fine limit person"),
    )
    auto_end = models.BooleanField(
        default=True,
        help_text=_("Publication ends by itself at the maximum period (Order 36 Art. 12)."),
        verbose_name=_("auto end"),
    )

    # -- deadlines (Order 36 Art. 16, SAMR Order 107 Arts. 14–17)
    day_kinds = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'How each *_days field counts, where not in working days: {"objection_review_days": '
            '"calendar"} (the court rules\' 15 days, GUIDE §0.2).'
        ),
        verbose_name=_("day kinds"),
    )
    extension_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=10,
        help_text=format_lazy(
            "{} {}", _("Working days one extension may add (Order 36 Art. 16)."), UNCONFIRMED_FIGURE
        ),
        verbose_name=_("extension days"),
    )
    extension_needs_head_approval = models.BooleanField(
        default=False,
        help_text=_("SAMR Order 107 Art. 16: the head approves an extension."),
        verbose_name=_("extension needs head approval"),
    )
    refusal_needs_head_approval = models.BooleanField(
        default=False,
        help_text=_("SAMR Order 107 Arts. 14 and 17: a non-acceptance or refusal needs the head."),
        verbose_name=_("refusal needs head approval"),
    )
    materials_notice_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Working days to send the one request for missing materials (SAMR: 2)."),
        verbose_name=_("materials notice days"),
    )

    # -- revocation (Order 36 Art. 25, SAMR Order 107 Art. 23)
    revocation_publication_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("How long a revocation decision is published."),
        verbose_name=_("revocation publication months"),
    )
    revocation_bar_months = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("How long after a revocation no new restoration of the record is accepted."),
        verbose_name=_("revocation bar months"),
    )

    # -- bankruptcy reorganisation (Order 36 Art. 20, SAMR Order 107 Art. 22)
    temporary_restoration_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Working days to shield a record during reorganisation; empty: not offered."),
        verbose_name=_("temporary restoration days"),
    )

    # -- collective decision (APL Art. 57)
    collective_decision_required = models.BooleanField(
        default=False,
        help_text=_("The signers decide in a recorded meeting (APL Art. 57)."),
        verbose_name=_("collective decision required"),
    )

    # -- statement and defence on electronic-monitoring evidence (APL Arts. 41, 44, 45, 62)
    monitoring_statement_days = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Working days the party has to state its case and defend (陈述、申辩) after being "
            "told of evidence from electronic monitoring. The Administrative Penalties Law "
            "(Art. 41) sets no period for this: the agency configures it. The default of 5 "
            "follows the 5 days the Law gives to ask for a hearing (Art. 64); its 3, 5 and 7 "
            "days are working days (Art. 85)."
        ),
        verbose_name=_("monitoring statement days"),
    )

    note = models.TextField(blank=True, verbose_name=_("note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("rule sets")
        verbose_name = _("rule set")
        ordering = ["list_type__code", "severity", "agency_id", "-effective_from"]
        # One version per scope and day, and unique version numbers per scope; the
        # national scope (agency empty) needs its own partial constraint because
        # NULLs are distinct in a plain unique constraint.
        constraints = [
            models.UniqueConstraint(
                fields=["list_type", "severity", "agency", "sector", "effective_from"],
                name="ruleset_one_version_per_day",
            ),
            models.UniqueConstraint(
                fields=["list_type", "severity", "sector", "effective_from"],
                condition=Q(agency__isnull=True),
                name="ruleset_one_national_version_per_day",
            ),
            models.UniqueConstraint(
                fields=["list_type", "severity", "agency", "sector", "version"],
                name="ruleset_unique_version",
            ),
            models.UniqueConstraint(
                fields=["list_type", "severity", "sector", "version"],
                condition=Q(agency__isnull=True),
                name="ruleset_unique_national_version",
            ),
        ]
        indexes = [models.Index(fields=["list_type", "severity", "effective_from"])]

    def __str__(self) -> str:
        scope = self.agency.code if self.agency_id else (self.sector or "national")
        return f"{self.list_type.code}/{self.severity} v{self.version} ({scope}, {self.effective_from})"

    @property
    def label(self) -> str:
        """The version's code for the audit trail and machines, e.g.
        ``serious_dishonesty/serious v2 (2025-01-01)``; a person reads ``title``."""
        return f"{self.list_type.code}/{self.severity} v{self.version} ({self.effective_from})"

    @property
    def title(self) -> str:
        """The version as a reader sees it, in the reader's language: the instrument, the
        list and its tier, the version and when it took effect, e.g. 《信用修复管理办法》·
        严重失信主体名单（严重）· 第 2 版（2025-01-01 起施行）."""
        source = INSTRUMENTS.get(self.instrument)
        english = (get_language() or "").startswith("en")
        list_name = self.list_type.localized_name("en" if english else "zh-hans")
        tier = Severity(self.severity).label if self.severity in Severity.values else self.severity
        if english:
            instrument = f"{source.title_en} ({source.number_en})" if source else self.legal_basis
            return (
                f"{instrument + ' · ' if instrument else ''}{list_name} ({tier}) · "
                f"version {self.version}, in force from {self.effective_from:%Y-%m-%d}"
            )
        instrument = f"《{source.title}》（{source.number}）" if source else self.legal_basis
        return (
            f"{instrument + ' · ' if instrument else ''}{list_name}（{tier}）· "
            f"第 {self.version} 版（{self.effective_from:%Y-%m-%d} 起施行）"
        )

    def clean(self) -> None:
        valid_materials = set(Material.values)
        unknown = [m for m in self.required_materials if m not in valid_materials]
        if unknown:
            raise ValidationError({"required_materials": f"Unknown material codes: {unknown}."})
        valid_penalties = set(PenaltyType.values)
        for name in (
            "barred_penalty_types",
            "never_published_penalty_types",
            "no_early_repair_penalty_types",
        ):
            unknown = [p for p in getattr(self, name) if p not in valid_penalties]
            if unknown:
                raise ValidationError({name: f"Unknown penalty types: {unknown}."})
        field_names = {f.name for f in self._meta.get_fields()}
        for name, data in (self.citations or {}).items():
            if name not in field_names:
                raise ValidationError({"citations": f"No rule field named {name!r}."})
            try:
                [Citation.parse(c) for c in _as_list(data)]
            except ValueError as exc:
                raise ValidationError({"citations": str(exc)}) from exc
        for name, kind in (self.day_kinds or {}).items():
            if name not in field_names or kind not in DayKind.values:
                raise ValidationError({"day_kinds": f"{name!r}: {kind!r} is not a kind of day."})
        if self.effective_until and self.effective_until < self.effective_from:
            raise ValidationError({"effective_until": "A version cannot end before it starts."})
        if (
            self.max_publication_months is not None
            and self.min_publication_months is not None
            and self.max_publication_months < self.min_publication_months
        ):
            raise ValidationError(
                {"max_publication_months": _("The maximum period is shorter than the minimum.")}
            )
        if self.pk and self.is_in_use():
            raise ValidationError(
                _(
                    "Cases were accepted under this version, so it cannot change: add a new "
                    "version with a later effective date instead."
                )
            )

    def is_in_use(self) -> bool:
        return Case.objects.filter(rule_set_id=self.pk).exists()

    def cited(self, field: str) -> list[Citation]:
        """The articles the value of ``field`` rests on (empty when none was recorded)."""
        return [Citation.parse(c) for c in _as_list(self.citations.get(field))]

    def citation_text(self, field: str, language: str | None = None) -> str:
        """``field``'s articles as a reader sees them, e.g. 《信用修复管理办法》第十二条."""
        return citations_render(_as_list(self.citations.get(field)), language)

    def day_kind(self, field: str) -> str:
        return self.day_kinds.get(field, DayKind.WORKING)

    @property
    def instrument_title(self) -> str:
        """The instrument as a reader sees it: 《信用修复管理办法》（国家发展改革委令第36号）."""
        source = INSTRUMENTS.get(self.instrument)
        if source is None:
            return self.legal_basis
        if (get_language() or "").startswith("en"):
            return f"{source.title_en} ({source.number_en})"
        return f"《{source.title}》（{source.number}）"

    def figure_text(self, name: str) -> str:
        """A figure with its unit, e.g. "7 working days", "12 months", "15 calendar days"."""
        value = getattr(self, name)
        if name == "min_publication_months" and value == 0:
            # Not "0 months": the rule sets no wait (e.g. a list left once corrected).
            return str(_("none: a repair may be requested at once"))
        if name.endswith("_months"):
            return ngettext("%(n)d month", "%(n)d months", value) % {"n": value}
        if self.day_kind(name) == DayKind.CALENDAR:
            return ngettext("%(n)d calendar day", "%(n)d calendar days", value) % {"n": value}
        return ngettext("%(n)d working day", "%(n)d working days", value) % {"n": value}

    def figures_used(self, case_kind: str | None = None) -> list[dict]:
        """The figures a case of ``case_kind`` runs on, each with its citation, for the case
        pages, the API and the letters: [{field, name, value, text, citation}]."""
        review = "objection_review_days" if case_kind == "objection" else "restoration_review_days"
        # An objection ("this record is wrong") runs on no publication period: the
        # periods before and of a restoration (《信用修复管理办法》第十二条) are not its own.
        periods = [] if case_kind == "objection" else RESTORATION_PERIODS
        names = [
            *periods,
            "acceptance_days",
            review,
            "extension_days",
            "removal_days",
        ]
        return [
            {
                "field": name,
                "name": str(FIGURE_NAMES[name]),
                "value": getattr(self, name),
                "text": self.figure_text(name),
                "citation": self.citation_text(name),
            }
            for name in names
            if getattr(self, name) is not None
        ]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


class Subject(models.Model):
    """A credit subject (信用主体): a legal person by USCC or a natural person by resident ID."""

    class Kind(models.TextChoices):
        LEGAL = "legal", _("Legal person")
        NATURAL = "natural", _("Natural person")

    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    code = models.CharField(max_length=18, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=300, verbose_name=_("name"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("subjects")
        verbose_name = _("subject")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:

        try:
            self.code = validate_subject_code(self.code, self.kind)
        except InvalidIdentifier as exc:
            raise ValidationError({"code": ValidationError(exc.message, code=exc.code)}) from exc


class Record(models.Model):
    """A list entry: one listing or publication of a subject by an agency."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DISPUTED = "disputed", _("Disputed")
        SUSPENDED = "suspended", _("Publication suspended")
        # Temporarily shielded while a reorganisation plan or composition agreement is
        # carried out (《信用修复管理办法》第二十条).
        SHIELDED = "shielded", _("Temporarily shielded (reorganisation)")
        REMOVED = "removed", _("Removed")
        EXPIRED = "expired", _("Expired")

    list_type = models.ForeignKey(
        ListType, on_delete=models.PROTECT, related_name="records", verbose_name=_("list type")
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="records", verbose_name=_("subject")
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="records", verbose_name=_("agency")
    )
    decision_no = models.CharField(_("decision document number"), max_length=100)
    legal_basis = models.CharField(max_length=500, blank=True, verbose_name=_("legal basis"))
    severity = models.CharField(max_length=10, choices=Severity.choices, verbose_name=_("severity"))
    penalty_type = models.CharField(
        max_length=30, choices=PenaltyType.choices, verbose_name=_("penalty type")
    )
    penalty_types = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Every penalty type the decision imposed; the longest period applies "
            "(《信用修复管理办法》第十二条)."
        ),
        verbose_name=_("penalty types"),
    )
    fine_amount = models.DecimalField(
        _("fine (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    procedure = models.CharField(
        max_length=12,
        choices=Procedure.choices,
        default=Procedure.ORDINARY,
        verbose_name=_("procedure"),
    )
    decided_on = models.DateField(
        _("decision document date"),
        null=True,
        blank=True,
        help_text=_(
            "Periods run from this date (《信用修复管理办法》第七条); empty: the listing date."
        ),
    )
    term_ends_on = models.DateField(
        _("end of the penalty's own term"),
        null=True,
        blank=True,
        help_text=_("A suspension or practising ban: publication is not ended before this date."),
    )
    listed_on = models.DateField(verbose_name=_("listed on"))
    restorable_from = models.DateField(
        null=True,
        blank=True,
        help_text=_("End of the minimum publication period."),
        verbose_name=_("restorable from"),
    )
    expires_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("End of the maximum publication period."),
        verbose_name=_("expires on"),
    )
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    platforms = models.ManyToManyField(
        Platform, through="Publication", related_name="records", verbose_name=_("platforms")
    )
    measures = models.ManyToManyField(
        Measure, blank=True, related_name="records", verbose_name=_("measures")
    )
    corrected_text = models.TextField(blank=True, verbose_name=_("corrected text"))
    restoration_barred_until = models.DateField(
        null=True,
        blank=True,
        help_text=_(
            "After a revoked restoration: no new restoration is accepted before this date "
            "(《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条)."
        ),
        verbose_name=_("restoration barred until"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("records")
        verbose_name = _("record")
        ordering = ["-listed_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "decision_no", "subject"], name="record_unique_decision"
            )
        ]
        indexes = [
            models.Index(fields=["subject", "status"]),
            models.Index(fields=["agency", "status"]),
            # The daily end of publications (``cases.expiry``) reads due records by these.
            models.Index(fields=["status", "expires_on"], name="record_due_to_end"),
        ]

    def __str__(self) -> str:
        return f"{self.decision_no} ({self.list_type.code})"


class Publication(models.Model):
    """A record as held by one platform; tracks withdrawal and its acknowledgement."""

    class Status(models.TextChoices):
        PUBLISHED = "published", _("Published")
        DISPUTED = "disputed", _("Flagged as disputed")
        WITHDRAWAL_REQUESTED = "withdrawal_requested", _("Withdrawal requested")
        WITHDRAWN = "withdrawn", _("Withdrawn (acknowledged)")
        SHIELD_REQUESTED = "shield_requested", _("Temporary shielding requested")
        SHIELDED = "shielded", _("Temporarily shielded (acknowledged)")
        # Published again (a revoked restoration) or newly (a revocation decision): the
        # platform was told and has not yet confirmed; PUBLISHED once it has.
        PUBLICATION_REQUESTED = "publication_requested", _("Publication requested")

    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="publications", verbose_name=_("record")
    )
    platform = models.ForeignKey(
        Platform, on_delete=models.PROTECT, related_name="publications", verbose_name=_("platform")
    )
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.PUBLISHED, verbose_name=_("status")
    )
    published_on = models.DateField(null=True, blank=True, verbose_name=_("published on"))
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))

    class Meta:
        verbose_name_plural = _("publications")
        verbose_name = _("publication")
        constraints = [
            models.UniqueConstraint(fields=["record", "platform"], name="publication_unique")
        ]

    def __str__(self) -> str:
        return f"{self.record} on {self.platform}"


class PublicationEffect(models.Model):
    """One effect of a repair a platform is asked for and acknowledges on its own
    (《信用修复管理办法》第三条): publication ended, sharing stopped, or one measure lifted.

    ``deadline`` is the case's deadline that asked for it (the removal deadline after a
    decision, the appeal's withdrawal deadline after an appeal's outcome): it names the
    case. Its own clock is ``due_on``: the rule's working days (3 after a decision, APL
    Art. 48 / SAMR Order 107 Art. 17) counted on the agency's calendar from the day it
    was asked, so an effect asked again (a withdrawal sent again after a mismatch) or
    later starts its own; once past it is escalated on its own (``escalated_at``). A
    withdrawal no case asks for (publication ended at its maximum) has no due date.
    """

    class Kind(models.TextChoices):
        PUBLICATION_ENDED = "publication_ended", _("Publication ended")
        SHARING_STOPPED = "sharing_stopped", _("Sharing and use stopped")
        MEASURE_LIFTED = "measure_lifted", _("Punishment measure lifted")

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="effects", verbose_name=_("publication")
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    measure = models.ForeignKey(
        Measure,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="effects",
        verbose_name=_("measure"),
    )
    deadline = models.ForeignKey(
        "Deadline",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="effects",
        verbose_name=_("deadline"),
    )
    requested_at = models.DateTimeField(verbose_name=_("requested at"))
    acknowledged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("acknowledged at"))
    due_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("The platform is to carry it out by this day (empty: no rule sets one)."),
        verbose_name=_("due on"),
    )
    working_days = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Days counted from the day it was asked (the rule's figure)."),
        verbose_name=_("working days"),
    )
    escalated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("escalated at"))

    class Meta:
        verbose_name_plural = _("publication effects")
        verbose_name = _("publication effect")
        ordering = ["publication_id", "kind", "measure_id", "id"]
        indexes = [
            models.Index(
                fields=["due_on"],
                condition=models.Q(acknowledged_at__isnull=True),
                name="effect_open_due",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "kind"],
                condition=models.Q(measure__isnull=True),
                name="effect_unique_kind",
            ),
            models.UniqueConstraint(
                fields=["publication", "kind", "measure"],
                condition=models.Q(measure__isnull=False),
                name="effect_unique_measure",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publication} {self.kind} {self.measure or ''}".strip()


class Role(models.TextChoices):
    """What a person does in Redress; officers' roles are held per agency."""

    INTAKE = "intake", _("Intake officer")
    CASE_OFFICER = "case_officer", _("Case officer")
    LEGAL_REVIEWER = "legal_reviewer", _("Legal reviewer")
    SIGNER = "signer", _("Signing official")
    SUPERVISOR = "supervisor", _("Supervisor")
    AUDITOR = "auditor", _("Auditor")


class Membership(models.Model):
    """A person holding a role at an agency (an officer) or auditing it (an auditor)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("agency")
    )
    role = models.CharField(max_length=20, choices=Role.choices, verbose_name=_("role"))
    since = models.DateField(default=datetime.date.today, verbose_name=_("since"))

    class Meta:
        verbose_name_plural = _("memberships")
        verbose_name = _("membership")
        constraints = [
            models.UniqueConstraint(fields=["user", "agency", "role"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["agency", "role"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.agency.code}"


# 《中华人民共和国行政处罚法》第五十八条第二款
LEGAL_QUALIFICATION_BASIS = "《中华人民共和国行政处罚法》第五十八条第二款"


class StaffProfile(models.Model):
    """What Redress knows of an officer as a person, whatever agency they serve.

    The legal qualification (法律职业资格) is personal, not a role at one agency: APL
    Art. 58 ¶2 requires it of whoever does the legal review of a penalty decision for the
    first time, so a legal reviewer without one on record may not claim or do a legal
    review (``cases.access.step_refusal``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_profile",
        verbose_name=_("user"),
    )
    legal_qualification_no = models.CharField(
        _("legal professional qualification certificate number"),
        max_length=32,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9]{6,32}$",
                _("Enter the certificate number as printed: 6 to 32 letters and digits."),
            )
        ],
        help_text=_(
            "国家统一法律职业资格证书编号. 初次从事行政处罚决定法制审核的人员，应当通过国家统一"
            "法律职业资格考试取得法律职业资格 (Administrative Penalties Law, Art. 58 ¶2): a "
            "legal reviewer without a number here cannot claim or do a legal review."
        ),
    )
    legal_qualification_recorded_on = models.DateField(
        _("qualification recorded on"),
        null=True,
        blank=True,
        help_text=_("The day the certificate was checked and recorded."),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def legally_qualified(self) -> bool:
        return bool(self.legal_qualification_no and self.legal_qualification_recorded_on)

    def clean(self) -> None:
        if bool(self.legal_qualification_no) != bool(self.legal_qualification_recorded_on):
            raise ValidationError(
                _("Record the certificate number and the day it was recorded together.")
            )


class Representation(models.Model):
    """A user acting for a subject (a company's representative, or the person themselves).

    The first link of a subject is confirmed by an officer before the user sees
    anything of the subject.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="representations",
        verbose_name=_("user"),
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.CASCADE, related_name="representations", verbose_name=_("subject")
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("representations")
        verbose_name = _("representation")
        constraints = [
            models.UniqueConstraint(fields=["user", "subject"], name="representation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.subject}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class SubjectTieQuerySet(models.QuerySet):
    def in_force(self, on: datetime.date):
        """The ties that bar their person on ``on``."""
        return self.filter(valid_from__lte=on).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on)
        )


class SubjectTie(models.Model):
    """A person's tie to a subject, recorded by an administrator or declared by the person.

    While in force it bars the person from acting as an officer on the subject's cases:
    an officer with a direct interest in a case, or another relationship that may affect
    impartial enforcement, recuses themselves (《中华人民共和国行政处罚法》第四十三条).
    ``cases.access.conflict_of_interest`` reads it with the ties Redress knows by itself
    (a representation, an application, a company account).
    """

    class Kind(models.TextChoices):
        EMPLOYMENT = "employment", _("Employment by the subject, now or before")
        SHAREHOLDING = "shareholding", _("Shareholding or another financial interest")
        CLOSE_RELATIVE = (
            "close_relative",
            _("Close relative of the subject or of its legal representative"),
        )
        FORMER_REPRESENTATIVE = "former_representative", _("Former representative or agent")
        OTHER = "other", _("Another tie that may affect impartiality")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="subject_ties",
        verbose_name=_("person"),
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="ties", verbose_name=_("subject")
    )
    kind = models.CharField(_("kind of tie"), max_length=24, choices=Kind.choices)
    note = models.TextField(
        _("note"), blank=True, help_text=_("What the tie is; required for another tie.")
    )
    valid_from = models.DateField(
        _("bars from"),
        default=timezone.localdate,
        help_text=_("The person is barred from the subject's cases from this day."),
    )
    valid_until = models.DateField(
        _("bars until"),
        null=True,
        blank=True,
        help_text=_(
            "The last day the person is barred; leave empty while the tie may still affect "
            "their impartiality (a past employment usually does)."
        ),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
        help_text=_("The administrator who recorded the tie, or the person who declared it."),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = SubjectTieQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("tie to a subject")
        verbose_name_plural = _("ties to subjects")
        indexes = [models.Index(fields=["user", "subject"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="subjecttie_until_after_from",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_kind_display()} — {self.subject}"

    @property
    def is_declared(self) -> bool:
        """Declared by the person themselves rather than recorded by an administrator."""
        return self.recorded_by_id == self.user_id

    def is_in_force(self, on: datetime.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.valid_from <= on and (self.valid_until is None or self.valid_until >= on)

    def clean(self) -> None:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError(
                {"valid_until": _("The last barred day cannot come before the first.")}
            )
        if self.kind == self.Kind.OTHER and not (self.note or "").strip():
            raise ValidationError({"note": _("Say what the tie is.")})


class ReferenceCounter(models.Model):
    """The last case number issued in a year, so references are gap-free and unique."""

    year = models.PositiveIntegerField(primary_key=True, verbose_name=_("year"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("last"))

    class Meta:
        verbose_name = _("reference counter")
        verbose_name_plural = _("reference counters")

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class LegalReviewGround(models.TextChoices):
    """Why a case needs a legal review (法制审核) before the decision: APL Art. 58 ¶1.

    《中华人民共和国行政处罚法》第五十八条：有下列情形之一，在行政机关负责人作出行政处罚的
    决定之前，应当由从事行政处罚决定法制审核的人员进行法制审核 (``LEGAL_REVIEW_GROUND_ITEM``
    gives each ground's item).
    """

    PUBLIC_INTEREST = "public_interest", _("It involves a major public interest")
    MAJOR_RIGHTS_HEARING = (
        "major_rights_hearing",
        _(
            "It directly concerns major rights of the party or a third party, and a hearing was held"
        ),
    )
    COMPLEX = "complex", _("It is difficult or complex and involves several legal relationships")
    OTHER_LAW = "other_law", _("Another law or regulation requires a legal review")


# The item of APL Art. 58 ¶1 each ground is.
LEGAL_REVIEW_GROUND_ITEM = {
    LegalReviewGround.PUBLIC_INTEREST: 1,
    LegalReviewGround.MAJOR_RIGHTS_HEARING: 2,
    LegalReviewGround.COMPLEX: 3,
    LegalReviewGround.OTHER_LAW: 4,
}


def legal_review_ground_citation(ground: str) -> Citation:
    """The article a ground rests on, e.g. 《中华人民共和国行政处罚法》第五十八条第一款第（三）项."""
    return Citation("apl", 58, 1, LEGAL_REVIEW_GROUND_ITEM[LegalReviewGround(ground)])


def legal_review_grounds_text(grounds, language: str | None = None) -> list[str]:
    """Each recorded ground as a reader sees it: its label and its article, in ``language``
    (the active language when None)."""
    with translation.override(language or translation.get_language()):
        return [
            f"{LegalReviewGround(g).label} ({legal_review_ground_citation(g).render(language)})"
            for g in grounds or ()
            if g in LegalReviewGround.values
        ]


class Case(models.Model):
    """An objection or a restoration request about one or more records of one subject."""

    class Kind(models.TextChoices):
        OBJECTION = "objection", _("Objection (异议)")
        RESTORATION = "restoration", _("Credit restoration (信用修复)")
        REORGANISATION = (
            "reorganisation",
            _("Temporary restoration in reorganisation or composition (临时信用修复)"),
        )

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted: acceptance check")
        AWAITING_MATERIALS = "awaiting_materials", _("Waiting for missing materials")
        UNDER_REVIEW = "under_review", _("Evidence review")
        LEGAL_REVIEW = "legal_review", _("Legal review")
        SIGN_OFF = "sign_off", _("Sign-off")
        REMOVAL = "removal", _("List removal in progress")
        APPEAL_WINDOW = "appeal_window", _("Closed: appeal window open")
        CLOSED = "closed", _("Closed")
        NOT_ACCEPTED = "not_accepted", _("Not accepted")
        LAPSED = "lapsed", _("Lapsed")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        REVOKED = "revoked", _("Restoration revoked")
        PLAN_FAILED = "plan_failed", _("Plan failed: publication restored")

    OPEN_STATUSES = (
        Status.SUBMITTED,
        Status.AWAITING_MATERIALS,
        Status.UNDER_REVIEW,
        Status.LEGAL_REVIEW,
        Status.SIGN_OFF,
        Status.REMOVAL,
    )
    # While these, the applicant (and the case officer) may add evidence.
    EVIDENCE_OPEN_STATUSES = (
        Status.SUBMITTED,
        Status.AWAITING_MATERIALS,
        Status.UNDER_REVIEW,
    )
    UNDECIDED_STATUSES = (
        Status.SUBMITTED,
        Status.AWAITING_MATERIALS,
        Status.UNDER_REVIEW,
        Status.LEGAL_REVIEW,
        Status.SIGN_OFF,
    )

    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        PARTLY_APPROVED = "partly_approved", _("Partly approved")
        REJECTED = "rejected", _("Rejected")

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Entity portal")
        API = "api", _("API")
        OFFICER = "officer", _("Filed by an officer on the entity's behalf")

    reference = models.CharField(
        max_length=20, unique=True, editable=False, verbose_name=_("reference")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="cases", verbose_name=_("subject")
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="cases", verbose_name=_("agency")
    )
    records = models.ManyToManyField(
        Record, through="CaseRecord", related_name="cases", verbose_name=_("records")
    )
    grounds = models.TextField(verbose_name=_("grounds"))
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cases_applied",
        verbose_name=_("applicant"),
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cases_filed",
        verbose_name=_("filed by"),
    )
    channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.PORTAL, verbose_name=_("channel")
    )
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default="zh-hans", verbose_name=_("language")
    )
    idempotency_key = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Client-supplied key that makes a repeated submission return the same case."),
        verbose_name=_("idempotency key"),
    )
    status = models.CharField(
        max_length=20,
        choices=Status.choices,
        default=Status.SUBMITTED,
        db_index=True,
        verbose_name=_("status"),
    )
    rule_set = models.ForeignKey(
        RuleSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        help_text=_("The rule version the case was accepted under."),
        verbose_name=_("rule set"),
    )
    decision = models.CharField(
        max_length=16, choices=Decision.choices, blank=True, verbose_name=_("decision")
    )
    decision_reasons = models.TextField(blank=True, verbose_name=_("decision reasons"))
    missing_materials = models.JSONField(
        default=list,
        blank=True,
        help_text=_("The open request's complete list of what is missing."),
        verbose_name=_("missing materials"),
    )
    materials_requested_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("materials requested at")
    )
    resume_status = models.CharField(
        max_length=20,
        choices=Status.choices,
        blank=True,
        help_text=_("Where the case returns when the missing materials arrive."),
        verbose_name=_("resume status"),
    )
    review_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The case officer who completed the evidence review."),
        verbose_name=_("review officer"),
    )
    recommendation = models.CharField(
        max_length=16, choices=Decision.choices, blank=True, verbose_name=_("recommendation")
    )
    lifted_measures = models.TextField(
        blank=True,
        help_text=_(
            "Temporary restoration: the disciplinary measures lifted while the plan is carried "
            "out, no more than needed (《信用修复管理办法》第二十条)."
        ),
        verbose_name=_("lifted measures"),
    )
    legal_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The legal reviewer who passed the case."),
        verbose_name=_("legal reviewer"),
    )
    legal_review_grounds = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "The grounds of APL Art. 58 the case officer recorded (LegalReviewGround codes); "
            "empty: none applies. Any ground sends the case to legal review."
        ),
        verbose_name=_("legal review grounds"),
    )
    legal_review_other_basis = models.CharField(
        max_length=500,
        blank=True,
        help_text=_("For the ground 'another law or regulation': which provision."),
        verbose_name=_("legal review other basis"),
    )
    signoff_round = models.PositiveIntegerField(default=1, verbose_name=_("signoff round"))
    non_acceptance_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "The intake officer who proposed not accepting the case, where the head must "
            "approve it (SAMR Order 107 Art. 14(3))."
        ),
        verbose_name=_("non acceptance proposed by"),
    )
    non_acceptance_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The signing official who approved the non-acceptance."),
        verbose_name=_("non acceptance approved by"),
    )
    process = models.OneToOneField(
        "viewflow.Process",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="case",
        help_text=_("The workflow process that routes this case."),
        verbose_name=_("process"),
    )
    submitted_at = models.DateTimeField(default=timezone.now, verbose_name=_("submitted at"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    decided_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the agency decided the request: approved, rejected or not accepted."),
        verbose_name=_("decided at"),
    )
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When a signing official revoked the approved restoration."),
        verbose_name=_("revoked at"),
    )
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # The signed head of the case's event chain (see cases.anchoring): its last event's
    # number and hash, signed with the audit key, written with every event.
    head_seq = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("head seq"))
    head_hash = models.CharField(
        max_length=64, blank=True, editable=False, verbose_name=_("head hash")
    )
    head_signature = models.CharField(
        max_length=120, blank=True, editable=False, verbose_name=_("head signature")
    )

    class Meta:
        verbose_name_plural = _("cases")
        verbose_name = _("case")
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="case_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["agency", "status", "-submitted_at"]),
            models.Index(fields=["subject", "-submitted_at"]),
            # The lists page by key on (submitted_at, id) newest first (``cases.keyset``):
            # an agency's case list, a subject's and an applicant's read these in order.
            models.Index(fields=["agency", "-submitted_at", "-id"], name="case_agency_keyset"),
            models.Index(fields=["subject", "-submitted_at", "-id"], name="case_subject_keyset"),
            models.Index(
                fields=["applicant", "-submitted_at", "-id"], name="case_applicant_keyset"
            ),
        ]
        permissions = [("view_all_cases", "Can view every agency's cases")]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def rule_version(self) -> dict | None:
        """The version the case was accepted under, named with its figures' articles."""
        if self.rule_set_id is None:
            return None
        rule_set = self.rule_set
        return {
            "label": rule_set.label,
            "title": rule_set.title,
            "instrument": rule_set.instrument,
            "instrument_title": rule_set.instrument_title,
            "effective_from": rule_set.effective_from,
            "effective_until": rule_set.effective_until,
            "figures": rule_set.figures_used(self.kind),
        }

    @property
    def is_undecided(self) -> bool:
        return self.status in self.UNDECIDED_STATUSES

    @property
    def legal_review_required(self) -> bool:
        """Whether the case goes to legal review: the rule set asks for it, or the case
        officer recorded a ground of APL Art. 58."""
        ruled = bool(self.rule_set_id and self.rule_set.legal_review_required)
        return ruled or bool(self.legal_review_grounds)

    def legal_review_grounds_text(self, language: str | None = None) -> list[str]:
        return legal_review_grounds_text(self.legal_review_grounds, language)

    @property
    def revocation(self) -> Revocation | None:
        """The revocation proposed or in effect on this case (a dropped proposal is not),
        or None."""
        return (
            self.revocations.exclude(status=Revocation.Status.DROPPED)
            .select_related("proposed_by", "legal_reviewer", "revoked_by", "decision_record")
            .order_by("-id")
            .first()
        )


class Signature(models.Model):
    """An accountable official's sign-off of a decision; serious cases need two."""

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="signatures", verbose_name=_("case")
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("signer"),
    )
    decision = models.CharField(
        max_length=16, choices=Case.Decision.choices, verbose_name=_("decision")
    )
    note = models.TextField(blank=True, verbose_name=_("note"))
    round = models.PositiveIntegerField(
        default=1,
        help_text=_("Sign-off round: a case sent back and signed again starts a new one."),
        verbose_name=_("round"),
    )
    signed_at = models.DateTimeField(default=timezone.now, verbose_name=_("signed at"))

    class Meta:
        verbose_name_plural = _("signatures")
        verbose_name = _("signature")
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "round", "signer"], name="signature_one_per_signer_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} signed by {self.signer} ({self.decision})"


class CaseRecord(models.Model):
    """A record named in a case, with the outcome for that record (for partial approval)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        UPHELD = "upheld", _("Upheld: removed or corrected")
        REJECTED = "rejected", _("Rejected: stays published")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="case_records", verbose_name=_("case")
    )
    record = models.ForeignKey(
        Record, on_delete=models.PROTECT, related_name="case_records", verbose_name=_("record")
    )
    status_before = models.CharField(
        max_length=12, choices=Record.Status.choices, verbose_name=_("status before")
    )
    outcome = models.CharField(
        max_length=10, choices=Outcome.choices, default=Outcome.PENDING, verbose_name=_("outcome")
    )
    correction = models.TextField(
        blank=True,
        help_text=_("For an upheld objection: the corrected text, if corrected."),
        verbose_name=_("correction"),
    )
    reason = models.TextField(
        blank=True, help_text=_("Why this outcome, tied to the evidence."), verbose_name=_("reason")
    )

    class Meta:
        verbose_name_plural = _("case records")
        verbose_name = _("case record")
        constraints = [models.UniqueConstraint(fields=["case", "record"], name="caserecord_unique")]

    def __str__(self) -> str:
        return f"{self.case} / {self.record}"


def evidence_upload_path(instance: Evidence, filename: str) -> str:
    """Random storage name: the uploaded file name is never used as a path."""
    return f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


def evidence_storage():
    """The private store for evidence (local disk or S3, see settings.STORAGES)."""
    return storages["evidence"]


class Evidence(models.Model):
    """One piece of evidence in a case, reviewed item by item by a person."""

    class Source(models.TextChoices):
        APPLICANT = "applicant", _("Submitted by the applicant")
        OFFICER = "officer", _("Added by an officer")
        ELECTRONIC_MONITORING = "electronic_monitoring", _("Electronic monitoring system")
        PLATFORM = "platform", _("Received from a platform")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Not reviewed")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        NEEDS_MORE = "needs_more", _("Needs more")

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("case")
    )
    record = models.ForeignKey(
        Record,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The record this item supports, where it is about one."),
        verbose_name=_("record"),
    )
    material = models.CharField(
        max_length=30, choices=Material.choices, default=Material.OTHER, verbose_name=_("material")
    )
    file = models.FileField(
        upload_to=evidence_upload_path,
        storage=evidence_storage,
        max_length=200,
        verbose_name=_("file"),
    )
    original_name = models.CharField(max_length=200, verbose_name=_("original name"))
    sha256 = models.CharField(max_length=64, db_index=True, verbose_name=_("sha256"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    content_type = models.CharField(max_length=100, verbose_name=_("content type"))
    source = models.CharField(
        max_length=24, choices=Source.choices, default=Source.APPLICANT, verbose_name=_("source")
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(default=timezone.now, verbose_name=_("uploaded at"))
    review_outcome = models.CharField(
        max_length=12,
        choices=Outcome.choices,
        default=Outcome.PENDING,
        verbose_name=_("review outcome"),
    )
    review_reason = models.TextField(blank=True, verbose_name=_("review reason"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reviewed at"))
    # Electronic monitoring (APL Art. 41): the device, and the legal and technical review
    # (法制和技术审核) it passed before its records may be used.
    monitoring_device = models.CharField(
        _("monitoring device"), max_length=100, blank=True, help_text=_("The device's identifier.")
    )
    monitoring_location = models.CharField(
        _("device location"),
        max_length=300,
        blank=True,
        help_text=_("Where the device is set up (its location is published, APL Art. 41)."),
    )
    monitoring_approval_ref = models.CharField(
        _("legal and technical approval"),
        max_length=100,
        blank=True,
        help_text=_("Reference of the device's legal and technical review (法制和技术审核)."),
    )
    monitoring_approval_on = models.DateField(
        _("approved on"), null=True, blank=True, help_text=_("Date of that review.")
    )

    class Meta:
        verbose_name = _("evidence")
        ordering = ["uploaded_at", "id"]
        verbose_name_plural = _("evidence")
        constraints = [
            models.UniqueConstraint(fields=["case", "sha256"], name="evidence_unique_per_case")
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def is_electronic_monitoring(self) -> bool:
        return self.source == self.Source.ELECTRONIC_MONITORING

    @property
    def counts(self) -> bool:
        """Whether this item can support a decision.

        APL Art. 41: evidence gathered by electronic monitoring counts only once a
        person has reviewed it and recorded the review; every item must be accepted
        by a named reviewer to count.
        """
        return (
            self.review_outcome == self.Outcome.ACCEPTED
            and self.reviewed_by_id is not None
            and self.reviewed_at is not None
        )


def meeting_minutes_path(instance: DecisionMeeting, filename: str) -> str:
    """Random storage name, like evidence: the uploaded name is never a path."""
    return f"minutes/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class DecisionMeeting(models.Model):
    """The meeting in which the agency's heads decided a case collectively.

    《中华人民共和国行政处罚法》第五十七条第二款：对情节复杂或者重大违法行为给予行政处罚，
    行政机关负责人应当集体讨论决定. Where the rule set asks for a collective decision, no
    signer decides a sign-off round before its meeting is on record: the day, who took part
    (people of the agency) and the minutes (a checked upload, kept like evidence).
    """

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="meetings", verbose_name=_("case")
    )
    round = models.PositiveIntegerField(
        help_text=_("The sign-off round the meeting decided."), verbose_name=_("round")
    )
    held_on = models.DateField(_("held on"))
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name=_("participants")
    )
    minutes = models.FileField(
        upload_to=meeting_minutes_path,
        storage=evidence_storage,
        max_length=200,
        verbose_name=_("minutes"),
    )
    minutes_name = models.CharField(max_length=200, verbose_name=_("minutes name"))
    minutes_sha256 = models.CharField(max_length=64, verbose_name=_("minutes sha256"))
    minutes_size = models.PositiveBigIntegerField(verbose_name=_("minutes size"))
    minutes_type = models.CharField(max_length=100, verbose_name=_("minutes type"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(default=timezone.now, verbose_name=_("recorded at"))

    class Meta:
        verbose_name_plural = _("decision meetings")
        verbose_name = _("decision meeting")
        ordering = ["round", "recorded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "round"], name="meeting_one_per_round")
        ]

    def __str__(self) -> str:
        return f"{self.case} meeting of {self.held_on}"


class RevocationGround(models.TextChoices):
    """Why an approved restoration is revoked: the conduct the rules name.

    《信用修复管理办法》(NDRC Order 36) Art. 25 names all three; 《市场监督管理信用修复管理办法》
    (SAMR Order 107) Art. 23 revokes a grant obtained by concealment or falsification
    during the restoration, which covers the first two (``REVOCATION_BASIS``).
    """

    FALSE_MATERIALS = "false_materials", _("False materials were provided")
    UNTRUE_COMMITMENT = "untrue_commitment", _("The credit commitment was seriously untrue")
    COMMITMENT_NOT_PERFORMED = (
        "commitment_not_performed",
        _("The subject deliberately failed to perform its credit commitment"),
    )


# The articles each ground rests on, as a revocation records them (``Revocation.basis``).
REVOCATION_BASIS = {
    RevocationGround.FALSE_MATERIALS: (
        "《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条"
    ),
    RevocationGround.UNTRUE_COMMITMENT: (
        "《信用修复管理办法》第二十五条；《市场监督管理信用修复管理办法》第二十三条"
    ),
    RevocationGround.COMMITMENT_NOT_PERFORMED: "《信用修复管理办法》第二十五条",
}


# The list a published revocation decision is a record of (migration 0017).
REVOCATION_DECISION_LIST = "revocation_decision"


class Revocation(models.Model):
    """The revocation of an approved restoration: the ground, its articles, the reasons,
    the evidence, and who proposed, reviewed and signed it.

    Decided like a decision, not by one person (decision 0016): a signing official
    proposes it, a legal reviewer of the agency who is not the proposer passes it, and
    the rule set's number of signing officials sign it, not the proposer alone; only then
    does it take effect (``revoked_at``). Written only by the revocation services of
    ``cases.transitions``, each with its event. In effect, it names the published
    revocation decision (``decision_record``) and the day the bar on a new restoration
    ends (``bar_ends_on``; 《信用修复管理办法》第二十五条, 总局令第107号第二十三条).
    """

    EVIDENCE_MAX = 10  # files one revocation takes

    Ground = RevocationGround

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed: legal review")
        SIGN_OFF = "sign_off", _("Legal review passed: sign-off")
        REVOKED = "revoked", _("In effect")
        DROPPED = "dropped", _("Not pursued")

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="revocations", verbose_name=_("case")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PROPOSED, verbose_name=_("status")
    )
    ground = models.CharField(
        max_length=32, choices=RevocationGround.choices, verbose_name=_("ground")
    )
    basis = models.CharField(
        max_length=300,
        help_text=_("The articles the ground rests on, as they stood."),
        verbose_name=_("basis"),
    )
    reasons = models.TextField(verbose_name=_("reasons"))
    evidence = models.ManyToManyField(
        Evidence, related_name="revocations", verbose_name=_("evidence")
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    proposed_at = models.DateTimeField(default=timezone.now, verbose_name=_("proposed at"))
    legal_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("legal reviewer"),
    )
    legal_reviewed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("legal reviewed at")
    )
    legal_review_note = models.TextField(blank=True, verbose_name=_("legal review note"))
    signers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="revocations_signed",
        verbose_name=_("signers"),
    )
    dropped_note = models.TextField(blank=True, verbose_name=_("dropped note"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The signing official whose signature made it take effect."),
        verbose_name=_("revoked by"),
    )
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    decision_record = models.OneToOneField(
        Record,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="revocation_published",
        help_text=_("The revocation decision as published (a record of its own)."),
        verbose_name=_("decision record"),
    )
    bar_ends_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("No new restoration of the records is accepted before this date."),
        verbose_name=_("bar ends on"),
    )

    class Meta:
        verbose_name_plural = _("revocations")
        verbose_name = _("revocation")
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=~Q(status="dropped"),
                name="revocation_one_pursued_per_case",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} ({self.get_ground_display()})"


class ServiceConsent(models.Model):
    """An applicant's consent to electronic service: letters served in the portal (and by
    e-mail), 《市场监督管理信用修复管理办法》第十九条 (SAMR Order 107 Art. 19).

    Given on the account (``case`` empty: every case the account files or is applicant
    of) or for one case; a withdrawn consent serves nothing from then on.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="service_consents",
        verbose_name=_("user"),
    )
    case = models.ForeignKey(
        "Case",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_consents",
        help_text=_("Empty: the consent covers every case of the account."),
        verbose_name=_("case"),
    )
    given_at = models.DateTimeField(_("consent given at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("consent withdrawn at"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent to electronic service")
        verbose_name_plural = _("consents to electronic service")
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "case"],
                condition=Q(withdrawn_at__isnull=True, case__isnull=False),
                name="service_consent_one_in_force_per_case",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(withdrawn_at__isnull=True, case__isnull=True),
                name="service_consent_one_in_force_per_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} consent ({self.case or 'account'})"


class Appeal(models.Model):
    """An administrative reconsideration or a suit against a case's decision, and later
    its outcome (行政复议法第二十条、行政诉讼法第四十六条; the court list: 向上一级人民法院申请复议).

    An outcome that revokes, changes or declares the decision unlawful has the published
    decision information withdrawn within 3 working days (《中华人民共和国行政处罚法》第四十八条).
    """

    class Kind(models.TextChoices):
        RECONSIDERATION = "reconsideration", _("Administrative reconsideration (行政复议)")
        SUIT = "suit", _("Administrative suit (行政诉讼)")
        HIGHER_COURT = (
            "higher_court",
            _("Reconsideration by the higher court (向上一级人民法院申请复议)"),
        )

    class Outcome(models.TextChoices):
        PENDING = "", _("Pending")
        UPHELD = "upheld", _("Decision upheld (维持)")
        REVOKED = "revoked", _("Decision revoked (撤销)")
        CHANGED = "changed", _("Decision changed (变更)")
        UNLAWFUL = "unlawful", _("Decision confirmed unlawful or void (确认违法或者无效)")
        WITHDRAWN = "withdrawn", _("Appeal withdrawn (撤回申请)")
        DISMISSED = "dismissed", _("Appeal rejected or dismissed (驳回)")

    # The outcomes after which the published decision is withdrawn (APL Art. 48).
    WITHDRAWING_OUTCOMES = (Outcome.REVOKED, Outcome.CHANGED, Outcome.UNLAWFUL)

    case = models.ForeignKey(
        "Case", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("case")
    )
    kind = models.CharField(_("kind of appeal"), max_length=20, choices=Kind.choices)
    body = models.CharField(
        _("reconsideration body or court"),
        max_length=200,
        help_text=_("Who hears the appeal: the reconsideration body or the court."),
    )
    filed_on = models.DateField(_("filed on"))
    reference = models.CharField(_("appeal reference"), max_length=100, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(default=timezone.now, verbose_name=_("recorded at"))
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, blank=True, default=""
    )
    outcome_on = models.DateField(_("outcome dated"), null=True, blank=True)
    outcome_reference = models.CharField(_("outcome reference"), max_length=100, blank=True)
    outcome_note = models.TextField(
        _("outcome note"),
        blank=True,
        help_text=_("What the body or court decided; for a change, what the decision now says."),
    )
    outcome_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("outcome recorded by"),
    )
    outcome_recorded_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("outcome recorded at")
    )
    changed_records = models.ManyToManyField(
        "Record",
        blank=True,
        related_name="+",
        verbose_name=_("records the change concerns"),
        help_text=_(
            "A change names the records of the case it concerns: only those are published "
            "again (or withdrawn); the others stay as the decision left them."
        ),
    )

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["filed_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "kind"],
                condition=Q(outcome=""),
                name="appeal_one_pending_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.kind} {self.filed_on}"

    @property
    def is_pending(self) -> bool:
        return self.outcome == self.Outcome.PENDING

    @property
    def follows(self) -> str:
        """What follows an outcome that revokes or voids a refusal (the applicant won): the
        agency decides again (行政复议法第六十四条、行政诉讼法第七十条); empty otherwise."""
        if self.outcome not in (self.Outcome.REVOKED, self.Outcome.UNLAWFUL):
            return ""
        case = self.case
        if case.status == Case.Status.NOT_ACCEPTED:
            return _(
                "The refusal to accept no longer stands: the agency must examine the "
                "application again (Administrative Reconsideration Law, Art. 64; "
                "Administrative Litigation Law, Art. 70)."
            )
        if case.decision == Case.Decision.REJECTED:
            return _(
                "The refusal no longer stands: the records it kept published are withdrawn "
                "and the agency must decide the application again (Administrative "
                "Reconsideration Law, Art. 64; Administrative Litigation Law, Art. 70)."
            )
        return ""


class AppendOnlyQuerySet(models.QuerySet):
    """Rows that are append-only: bulk updates and deletes are refused.

    The ORM's refusal guards against a mistake in the code; on PostgreSQL a trigger
    (migration 0009) refuses the same to any SQL, whoever sends it.
    """

    def update(self, **kwargs):
        raise TypeError(f"{self._noun()} are append-only: they cannot be updated.")

    def delete(self):
        raise TypeError(f"{self._noun()} are append-only: they cannot be deleted.")

    _raw_delete = delete

    def _noun(self) -> str:
        return str(self.model._meta.verbose_name_plural).capitalize()


CaseEventQuerySet = AppendOnlyQuerySet


class AppendOnlyModel(models.Model):
    """A row written once and never changed or removed (the ORM's guard).

    ``save`` only inserts and ``delete`` is refused; ``AppendOnlyQuerySet`` refuses
    the same in bulk, and on PostgreSQL a trigger (migration 0009) refuses it to any
    SQL. ``append_only_noun`` names the row in the refusal ("Case events").
    """

    append_only_noun = "Rows"

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None or kwargs.get("force_update"):
            raise TypeError(f"{self.append_only_noun} are append-only: a row cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{self.append_only_noun} are append-only: a row cannot be deleted.")


class ChainedEvent(AppendOnlyModel):
    """What every hash-chained audit entry holds, whatever it belongs to.

    ``hash`` is the SHA-256 of the previous entry's hash and this entry's canonical
    content (see ``cases.events``); ``seq`` numbers the entries of one chain. The
    owner (a case, a record) and the chain's unique constraint are the subclass's.
    """

    seq = models.PositiveIntegerField(verbose_name=_("seq"))
    kind = models.CharField(max_length=50, verbose_name=_("kind"))
    actor_role = models.CharField(max_length=20, blank=True, verbose_name=_("actor role"))
    automated = models.BooleanField(
        default=False,
        help_text=_("True when the system did this step, not a person."),
        verbose_name=_("automated"),
    )
    at = models.DateTimeField(verbose_name=_("at"))
    before = models.JSONField(default=dict, blank=True, verbose_name=_("before"))
    after = models.JSONField(default=dict, blank=True, verbose_name=_("after"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    rule_version = models.CharField(max_length=120, blank=True, verbose_name=_("rule version"))
    prev_hash = models.CharField(max_length=64, verbose_name=_("prev hash"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))

    class Meta:
        abstract = True


class CaseEvent(ChainedEvent):
    """One entry of a case's audit trail, hash-chained to the one before it.

    ``hash`` is the SHA-256 of the previous event's hash and this event's
    canonical content (see ``cases.events``), so changing, removing or reordering
    any event breaks every link after it; ``verify_events`` finds the first one.
    The case row's signed head and the agency checkpoints (``cases.anchoring``) show
    a chain cut at its end or rewritten with its hashes recomputed.
    """

    append_only_noun = "Case events"

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="events", verbose_name=_("case")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("actor name"))

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("case events")
        verbose_name = _("case event")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="caseevent_chain")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.kind}"


class RecordEvent(ChainedEvent):
    """One entry of a record's own audit trail: what happened to it outside any case.

    Publication that ends by itself at the maximum period (《信用修复管理办法》第十二条)
    is nobody's decision and may concern a record no case was ever filed for; it is
    recorded here, hash-chained per record like a case's events (``cases.events``), and
    also in the chain of every open case of the record.
    """

    append_only_noun = "Record events"

    record = models.ForeignKey(
        Record, on_delete=models.PROTECT, related_name="events", verbose_name=_("record")
    )
    # Nobody decides what happens to a record outside a case: the system does it.
    automated = models.BooleanField(default=True, verbose_name=_("automated"))

    class Meta:
        verbose_name_plural = _("record events")
        verbose_name = _("record event")
        ordering = ["record_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["record", "seq"], name="recordevent_chain")]

    def __str__(self) -> str:
        return f"record {self.record_id}#{self.seq} {self.kind}"


class AuditCheckpoint(AppendOnlyModel):
    """A signed statement of every case head of one agency at one moment (append-only).

    ``body`` is the canonical JSON that was signed (see ``cases.anchoring``); each
    checkpoint names the hash of the one before it, so a removed checkpoint shows. A
    copy of each goes to the write-once checkpoint store outside the database.
    """

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="checkpoints", verbose_name=_("agency")
    )
    seq = models.PositiveIntegerField(verbose_name=_("seq"))
    taken_at = models.DateTimeField(verbose_name=_("taken at"))
    body = models.TextField(verbose_name=_("body"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    prev_hash = models.CharField(max_length=64, verbose_name=_("prev hash"))
    signature = models.CharField(max_length=120, verbose_name=_("signature"))

    append_only_noun = "Audit checkpoints"

    class Meta:
        verbose_name_plural = _("audit checkpoints")
        verbose_name = _("audit checkpoint")
        ordering = ["agency_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "seq"], name="auditcheckpoint_chain")
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} checkpoint #{self.seq}"


class CaseUserObjectPermission(UserObjectPermissionBase):
    """A per-case grant (django-guardian, direct foreign key): a delegated officer or an
    extra representative on one case. A direct key keeps permission-filtered lists on
    the case index (guardian's generic table casts ids to text and defeats it)."""

    content_object = models.ForeignKey(
        Case, on_delete=models.CASCADE, verbose_name=_("content object")
    )

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name_plural = _("case user object permissions")
        verbose_name = _("case user object permission")
        abstract = False


# Fields inherited from django-guardian (and below from django-rest-knox) carry no
# translatable names: named here so that the admin in Chinese shows them in Chinese.
CaseUserObjectPermission._meta.get_field("permission").verbose_name = _("permission")
CaseUserObjectPermission._meta.get_field("user").verbose_name = _("user")


# --- the entity portal's accounts ----------------------------------------------------------------
# Sign-up, company accounts and the proof that a person acts for a subject. Writes go
# through ``cases.accounts``; a ``Representation`` stays the one thing that lets a
# person see a subject, these models record how it came about.


class PortalAccount(models.Model):
    """A portal user's own settings: the language they read, when their e-mail was verified."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="portal_account",
        verbose_name=_("user"),
    )
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default="zh-hans", verbose_name=_("language")
    )
    email_verified_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("email verified at")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("portal account")
        verbose_name_plural = _("portal accounts")

    def __str__(self) -> str:
        return f"{self.user} ({self.language})"


class ApiToken(AbstractAuthToken):
    """An API token: one per login, kept only as its SHA-512 digest (django-rest-knox).

    It expires ``REDRESS_API_TOKEN_HOURS`` after the login and is deleted when revoked:
    by the API's logout, by its holder on the token pages, by a new password (any path)
    and by signing out of the web pages. Writes go through ``cases.accounts``.
    ``token_key`` holds the token's first characters (knox looks tokens up by them);
    the rest is never stored.
    """

    # A plain number names a token in URLs and lists: the digest is knox's key, but a
    # hash of the secret has no business in an address bar or a log.
    id = models.BigAutoField(primary_key=True, verbose_name=_("id"))
    digest = models.CharField(max_length=KNOX.DIGEST_LENGTH, unique=True, verbose_name=_("digest"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))

    PREFIX_LENGTH = 8  # shown so that a holder can tell their tokens apart; not a secret

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def prefix(self) -> str:
        return self.token_key[: self.PREFIX_LENGTH]


for _name, _label in (
    ("token_key", _("token key")),
    ("user", _("user")),
    ("created", _("created at")),
    ("expiry", _("expires at")),
):
    ApiToken._meta.get_field(_name).verbose_name = _label


class PasswordResetRequest(models.Model):
    """One request for a password-reset mail, kept for as long as it counts against the
    limits (``REDRESS_PASSWORD_RESET_*``). The e-mail address typed is kept only as a
    keyed hash: the table counts, it is not a list of the addresses people tried."""

    requested_at = models.DateTimeField(
        default=timezone.now, db_index=True, verbose_name=_("requested at")
    )
    address = models.GenericIPAddressField(
        null=True, blank=True, db_index=True, verbose_name=_("address")
    )
    email_digest = models.CharField(max_length=64, db_index=True, verbose_name=_("email digest"))

    class Meta:
        verbose_name = _("password reset request")
        verbose_name_plural = _("password reset requests")

    def __str__(self) -> str:
        return f"{self.address} at {self.requested_at:%Y-%m-%d %H:%M}"


class Organisation(models.Model):
    """A company account: the people who act for one legal-person subject (by its USCC).

    Created by the first representative whose link to the subject an officer confirms;
    further representatives join by invitation or by a request a member confirms.
    """

    name = models.CharField(max_length=300, verbose_name=_("name"))
    subject = models.OneToOneField(
        Subject, on_delete=models.PROTECT, related_name="organisation", verbose_name=_("subject")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("organisations")
        verbose_name = _("organisation")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganisationMemberQuerySet(models.QuerySet):
    def current(self):
        """The people in the account now (a removed member's row stays, for the record)."""
        return self.filter(removed_at__isnull=True)

    def removed(self):
        return self.filter(removed_at__isnull=False)


class OrganisationMember(models.Model):
    """A person in a company account; every member is a confirmed representative of its subject.

    Removing a member (or a member leaving) keeps the row with who removed them and when;
    a person who joins again gets a new row, so each stay in the account is on record.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="members",
        verbose_name=_("organisation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="organisation_memberships",
        verbose_name=_("user"),
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("added by"),
    )
    joined_at = models.DateTimeField(default=timezone.now, verbose_name=_("joined at"))
    removed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("removed at"))
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The member who removed this person; the person themselves if they left."),
        verbose_name=_("removed by"),
    )

    objects = OrganisationMemberQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("organisation members")
        verbose_name = _("organisation member")
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "user"],
                condition=Q(removed_at__isnull=True),
                name="organisationmember_one_current",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation}"

    @property
    def is_current(self) -> bool:
        return self.removed_at is None

    @property
    def has_left(self) -> bool:
        """Removed by themselves rather than by a colleague."""
        return self.removed_at is not None and self.removed_by_id == self.user_id


class OrganisationInvitation(models.Model):
    """A member invites a colleague by e-mail; accepting makes them a confirmed representative.

    The link in the mail carries a signed token naming this row, so nothing secret is stored.
    Until it is accepted any member may revoke it, and the link then stops working.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("organisation"),
    )
    email = models.EmailField(verbose_name=_("email"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name_plural = _("organisation invitations")
        verbose_name = _("organisation invitation")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation}"

    @property
    def is_open(self) -> bool:
        """Neither accepted nor revoked (its link may still have expired after seven days)."""
        return self.accepted_at is None and self.revoked_at is None


def representation_proof_path(instance: RepresentationRequest, filename: str) -> str:
    """Random storage name: the uploaded file name is never used as a path."""
    return f"representation/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class RepresentationRequest(models.Model):
    """A person's claim to act for a subject, with the proof of authorisation they uploaded.

    Creates an unconfirmed ``Representation``; an officer of an agency that lists the
    subject confirms the first link, a confirmed representative may confirm later ones.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="representation_requests",
        verbose_name=_("user"),
    )
    subject = models.ForeignKey(
        Subject,
        on_delete=models.CASCADE,
        related_name="representation_requests",
        verbose_name=_("subject"),
    )
    representation = models.ForeignKey(
        Representation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
        verbose_name=_("representation"),
    )
    note = models.TextField(
        blank=True, help_text=_("Who the person is for the subject."), verbose_name=_("note")
    )
    proof = models.FileField(
        upload_to=representation_proof_path,
        storage=evidence_storage,
        max_length=200,
        verbose_name=_("proof"),
    )
    proof_name = models.CharField(max_length=200, verbose_name=_("proof name"))
    proof_sha256 = models.CharField(max_length=64, verbose_name=_("proof sha256"))
    proof_size = models.PositiveBigIntegerField(verbose_name=_("proof size"))
    proof_content_type = models.CharField(max_length=100, verbose_name=_("proof content type"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_as = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("The decider's capacity: a role, or representative."),
        verbose_name=_("decided as"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("representation requests")
        verbose_name = _("representation request")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "subject"],
                condition=Q(status="pending"),
                name="representationrequest_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.subject} ({self.status})"


# --- the legal clock -----------------------------------------------------------------------------
# Calendar overrides, each case's deadlines and the clock ledger (moved from the route's app
# with their tables; the working-day calendar itself is ``cases.calendar``).


class CalendarOverride(models.Model):
    """A day declared working or non-working, nationally or for one agency.

    Used for a State Council notice the holiday package does not have yet, a local
    holiday, or an agency's own closure. Saving or deleting one recomputes the
    running deadlines of open cases it affects.
    """

    day = models.DateField(verbose_name=_("day"))
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("Leave empty for a national override."),
        verbose_name=_("agency"),
    )
    is_working_day = models.BooleanField(verbose_name=_("is working day"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("calendar overrides")
        verbose_name = _("calendar override")
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["day", "agency"], name="calendaroverride_unique"),
            models.UniqueConstraint(
                fields=["day"], condition=Q(agency__isnull=True), name="calendaroverride_national"
            ),
        ]

    def __str__(self) -> str:
        scope = self.agency.code if self.agency_id else "national"
        kind = "working day" if self.is_working_day else "holiday"
        return f"{self.day} {kind}: {self.name} ({scope})"

    def as_day(self):
        """This row as the calendar's ``DayOverride`` value."""
        return DayOverride(
            day=self.day,
            is_working_day=self.is_working_day,
            name=self.name,
            scope=self.agency.code if self.agency_id else NATIONAL,
        )


class CalendarYear(models.Model):
    """A year whose national calendar the operator has loaded through overrides.

    For a year the holiday package does not know, deadlines stay provisional until
    the year is declared here (after its holidays and adjusted working days are
    entered as national overrides).
    """

    year = models.PositiveIntegerField(primary_key=True, verbose_name=_("year"))
    source = models.CharField(
        max_length=300,
        help_text=_("The State Council notice the overrides were taken from."),
        verbose_name=_("source"),
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("declared by"),
    )
    declared_at = models.DateTimeField(auto_now_add=True, verbose_name=_("declared at"))

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")

    def __str__(self) -> str:
        return str(self.year)


class Deadline(models.Model):
    """One legal deadline of a case, with how it was computed."""

    class Step(models.TextChoices):
        ACCEPTANCE = "acceptance", _("Acceptance check")
        # SAMR Order 107 Art. 14 ¶2: everything missing is told at once within this period.
        NOTICE = "notice", _("Tell the applicant everything missing, at once")
        MATERIALS = "materials", _("Applicant to supply missing materials")
        DECISION = "decision", _("Decision")
        LETTER = "letter", _("Serve the decision letter")
        REMOVAL = "removal", _("Withdrawal from every platform")
        STATEMENT = "statement", _("Party to state its case and defend (陈述、申辩)")
        # 《中华人民共和国行政处罚法》第四十八条: withdrawn within 3 working days of the change.
        APPEAL = "appeal", _("Withdraw the published decision after the appeal's outcome")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        STOPPED = "stopped", _("Stopped")
        MET = "met", _("Met")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("No longer applies")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="deadlines", verbose_name=_("case")
    )
    step = models.CharField(max_length=12, choices=Step.choices, verbose_name=_("step"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status")
    )
    started_on = models.DateField(
        help_text=_("The day counting (re)started from."), verbose_name=_("started on")
    )
    working_days = models.PositiveIntegerField(
        help_text=_("Working days counted from started_on (the remainder after a stop)."),
        verbose_name=_("working days"),
    )
    day_kind = models.CharField(
        max_length=10,
        choices=DayKind.choices,
        default=DayKind.WORKING,
        help_text=_("How working_days counts: working days, or calendar days (the court list)."),
        verbose_name=_("day kind"),
    )
    due_on = models.DateField(verbose_name=_("due on"))
    computation = models.TextField(
        help_text=_("How due_on was computed, in English: the audit record."),
        verbose_name=_("computation"),
    )
    computation_facts = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "The same computation as codes and parameters, shown in the reader's language "
            "(empty for deadlines computed before it was kept)."
        ),
        verbose_name=_("computation facts"),
    )
    provisional = models.BooleanField(
        default=False,
        help_text=_("A year in the span has no loaded national calendar."),
        verbose_name=_("provisional"),
    )
    extended_days = models.PositiveIntegerField(default=0, verbose_name=_("extended days"))
    escalated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("escalated at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name_plural = _("deadlines")
        verbose_name = _("deadline")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"{self.case} {self.step} due {self.due_on}"

    @property
    def computation_text(self) -> str:
        """How ``due_on`` was computed, in the active language.

        A deadline computed before its facts were kept shows its stored English text.
        """
        facts = self.computation_facts
        if not facts or facts.get("version") != FACTS_VERSION:
            return self.computation
        return explain_computation(facts)


class ClockEntry(models.Model):
    """The clock ledger: every start, stop, resumption, extension and recomputation."""

    class Kind(models.TextChoices):
        STARTED = "started", _("Started")
        STOPPED = "stopped", _("Stopped")
        RESUMED = "resumed", _("Resumed")
        EXTENDED = "extended", _("Extended")
        RECOMPUTED = "recomputed", _("Recomputed after a calendar change")
        MET = "met", _("Met")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="clock_entries", verbose_name=_("case")
    )
    deadline = models.ForeignKey(
        Deadline, on_delete=models.CASCADE, related_name="entries", verbose_name=_("deadline")
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(verbose_name=_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved by"),
    )
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    days = models.IntegerField(default=0, verbose_name=_("days"))
    due_before = models.DateField(null=True, blank=True, verbose_name=_("due before"))
    due_after = models.DateField(null=True, blank=True, verbose_name=_("due after"))

    class Meta:
        verbose_name = _("clock entry")
        ordering = ["at", "id"]
        verbose_name_plural = _("clock entries")

    def __str__(self) -> str:
        return f"{self.case} {self.deadline.step} {self.kind}"

    @property
    def reason_text(self) -> str:
        """The reason in the reader's language; ``reason`` stays the English audit record.

        The system's reasons are marked for translation where they are written
        (``gettext_noop`` in the case services); "<reason>: <detail>" translates the reason
        and keeps the detail (a letter's code). What a person typed is shown as typed.
        """
        if not self.reason:
            return ""
        translated = gettext(self.reason)
        if translated != self.reason:
            return translated
        head, colon, detail = self.reason.partition(": ")
        if colon and gettext(head) != head:
            return pgettext("reason and its detail", "%(reason)s: %(detail)s") % {
                "reason": gettext(head),
                "detail": detail,
            }
        return self.reason
