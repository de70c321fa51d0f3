"""Letters a case produces, and the auditor's exports.

A ``Letter`` is requested (state ``pending``) in the transaction of the decision it
serves, with its text already fixed: the HTML rendered from the letter templates is
stored on the row together with the template's content hash and the rule version,
so editing a template later never changes a letter already requested or issued.
A worker turns the HTML into a PDF, stores it and records its SHA-256 on the row
and in the case's event log (``letter_issued``). The PDF is the letter; the HTML is kept
so that the same bytes can be produced again and compared.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Agency, Case, ServiceConsent


def letters_storage():
    return storages["letters"]


def exports_storage():
    return storages["exports"]


class Letter(models.Model):
    """One letter of a case, in one language."""

    class Kind(models.TextChoices):
        ACCEPTANCE = "acceptance", _("Acceptance notice (受理通知书)")
        MATERIALS_REQUEST = "materials_request", _("Request for missing materials (补正材料通知书)")
        NON_ACCEPTANCE = "non_acceptance", _("Non-acceptance notice (不予受理通知书)")
        APPROVAL = "approval", _("Decision: approved or partly approved (决定书)")
        REJECTION = "rejection", _("Decision: rejected (不予支持决定书)")
        WITHDRAWAL_NOTICE = "withdrawal_notice", _("Withdrawal notice (撤下公示信息说明)")
        REVOCATION = "revocation", _("Revocation decision (撤销信用修复决定书)")
        TEMPORARY_RESTORATION = (
            "temporary_restoration",
            _("Temporary restoration decision (临时信用修复决定书)"),
        )
        PLAN_FAILED = (
            "plan_failed",
            _("Publication restored after a failed plan (恢复公示决定书)"),
        )

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be rendered")
        RENDERING = "rendering", _("Being rendered")
        ISSUED = "issued", _("Issued")
        FAILED = "failed", _("Rendering failed")

    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="letters", verbose_name=_("case")
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, verbose_name=_("language")
    )
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    verification_code = models.CharField(
        max_length=10, unique=True, verbose_name=_("verification code")
    )
    issued_at = models.DateTimeField(
        help_text=_("The letter's date, fixed when it is requested."), verbose_name=_("issued at")
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The person whose decision the letter serves."),
        verbose_name=_("decided by"),
    )
    signers = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Usernames of the officials who signed."),
        verbose_name=_("signers"),
    )
    document_number = models.CharField(
        _("document number"),
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("The decision's number (文号), drawn from the agency's yearly sequence."),
    )
    template_version = models.CharField(max_length=80, verbose_name=_("template version"))
    template_sha256 = models.CharField(max_length=64, verbose_name=_("template sha256"))
    rule_version = models.CharField(max_length=120, blank=True, verbose_name=_("rule version"))
    html = models.TextField(
        help_text=_("The letter's text as rendered from its template."), verbose_name=_("html")
    )
    pdf = models.FileField(
        storage=letters_storage, max_length=200, blank=True, verbose_name=_("pdf")
    )
    sha256 = models.CharField(max_length=64, blank=True, db_index=True, verbose_name=_("sha256"))
    size = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("size"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    render_started_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("render started at")
    )
    stored_at = models.DateTimeField(null=True, blank=True, verbose_name=_("stored at"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("failed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name_plural = _("letters")
        verbose_name = _("letter")
        ordering = ["issued_at", "id"]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["case", "kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.kind} {self.verification_code} ({self.status})"

    @property
    def code_display(self) -> str:
        """The verification code as printed: two groups of five."""
        return f"{self.verification_code[:5]}-{self.verification_code[5:]}"

    @property
    def file_name(self) -> str:
        return f"{self.kind}-{self.verification_code}.pdf"

    @classmethod
    def storage(cls):
        """Where letters (and the agencies' seals they print) are stored."""
        return cls._meta.get_field("pdf").storage


class DocumentNumberCounter(models.Model):
    """The last document number an agency gave in a year; its row is locked while a
    decision draws the next one, so the numbers run without gaps or repeats."""

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="+", verbose_name=_("agency")
    )
    year = models.PositiveIntegerField(verbose_name=_("year"))
    last = models.PositiveIntegerField(default=0, verbose_name=_("last"))

    class Meta:
        verbose_name_plural = _("document number counters")
        verbose_name = _("document number counter")
        constraints = [
            models.UniqueConstraint(fields=["agency", "year"], name="one_counter_per_agency_year")
        ]

    def __str__(self) -> str:
        return f"{self.agency.code} {self.year}: {self.last}"


class LetterService(models.Model):
    """How and when a letter was served (送达), and the receipt: the legal fact from which
    the appeal window runs (decision 0023).

    In the portal only with the applicant's consent to electronic service
    (《市场监督管理信用修复管理办法》第十九条): the applicant opening the letter there serves it.
    By e-mail (with that consent, APL Art. 61 ¶2), by post with a tracking number, or in
    person: an officer records it with the receipt. A letter is served once.
    """

    class Method(models.TextChoices):
        PORTAL = "portal", _("Electronic service in the portal (电子送达)")
        EMAIL = "email", _("By e-mail, with consent to electronic service (电子邮件送达)")
        POST = "post", _("By post (邮寄送达)")
        IN_PERSON = "in_person", _("In person (直接送达)")

    letter = models.OneToOneField(
        Letter, on_delete=models.PROTECT, related_name="service", verbose_name=_("letter")
    )
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="letter_services", verbose_name=_("case")
    )
    method = models.CharField(_("how it was served"), max_length=10, choices=Method.choices)
    served_on = models.DateField(_("served on"))
    receipt_by = models.CharField(
        _("received by"),
        max_length=200,
        blank=True,
        help_text=_("Who received or signed for it."),
    )
    tracking_number = models.CharField(_("tracking number"), max_length=60, blank=True)
    address = models.CharField(
        _("address served to"),
        max_length=300,
        blank=True,
        help_text=_("The e-mail or postal address the letter went to."),
    )
    note = models.TextField(_("receipt notes"), blank=True)
    consent = models.ForeignKey(
        ServiceConsent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("consent"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The officer who recorded it; empty: the applicant opened it in the portal."),
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("recorded at"))

    class Meta:
        verbose_name = _("service of a letter")
        verbose_name_plural = _("service of letters")
        ordering = ["served_on", "id"]

    def __str__(self) -> str:
        return f"{self.letter} served {self.method} {self.served_on:%Y-%m-%d}"


class Export(models.Model):
    """An auditor's export of an agency's decisions over a period (a ZIP, built by a worker)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Being written")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="exports", verbose_name=_("agency")
    )
    date_from = models.DateField(verbose_name=_("date from"))
    date_to = models.DateField(verbose_name=_("date to"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    done = models.PositiveIntegerField(default=0, verbose_name=_("done"))
    total = models.PositiveIntegerField(default=0, verbose_name=_("total"))
    file = models.FileField(
        storage=exports_storage, max_length=200, blank=True, verbose_name=_("file")
    )
    sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("sha256"))
    size = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("size"))
    cases = models.PositiveIntegerField(default=0, verbose_name=_("cases"))
    letters = models.PositiveIntegerField(default=0, verbose_name=_("letters"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name_plural = _("exports")
        verbose_name = _("export")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.agency.code} {self.date_from}–{self.date_to} ({self.status})"

    @classmethod
    def storage(cls):
        return cls._meta.get_field("file").storage

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)
