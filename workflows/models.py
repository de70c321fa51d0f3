"""The legal clock: calendar overrides, each case's deadlines, and the clock ledger."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import Agency, Case
from workflows.calendar import FACTS_VERSION, explain_computation


class CalendarOverride(models.Model):
    """A day declared working or non-working, nationally or for one agency.

    Used for a State Council notice the holiday package does not have yet, a local
    holiday, or an agency's own closure. Saving or deleting one recomputes the
    running deadlines of open cases it affects.
    """

    day = models.DateField()
    agency = models.ForeignKey(
        Agency,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("Leave empty for a national override."),
    )
    is_working_day = models.BooleanField()
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        from workflows.calendar import NATIONAL, DayOverride

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

    year = models.PositiveIntegerField(primary_key=True)
    source = models.CharField(
        max_length=300, help_text=_("The State Council notice the overrides were taken from.")
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.year)


class Deadline(models.Model):
    """One legal deadline of a case, with how it was computed."""

    class Step(models.TextChoices):
        ACCEPTANCE = "acceptance", _("Acceptance check")
        MATERIALS = "materials", _("Applicant to supply missing materials")
        DECISION = "decision", _("Decision")
        LETTER = "letter", _("Serve the decision letter")
        REMOVAL = "removal", _("Withdrawal from every platform")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        STOPPED = "stopped", _("Stopped")
        MET = "met", _("Met")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("No longer applies")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="deadlines")
    step = models.CharField(max_length=12, choices=Step.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_on = models.DateField(help_text=_("The day counting (re)started from."))
    working_days = models.PositiveIntegerField(
        help_text=_("Working days counted from started_on (the remainder after a stop).")
    )
    due_on = models.DateField()
    computation = models.TextField(
        help_text=_("How due_on was computed, in English: the audit record.")
    )
    computation_facts = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "The same computation as codes and parameters, shown in the reader's language "
            "(empty for deadlines computed before it was kept)."
        ),
    )
    provisional = models.BooleanField(
        default=False, help_text=_("A year in the span has no loaded national calendar.")
    )
    extended_days = models.PositiveIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="clock_entries")
    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    days = models.IntegerField(default=0)
    due_before = models.DateField(null=True, blank=True)
    due_after = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "clock entries"

    def __str__(self) -> str:
        return f"{self.case} {self.deadline.step} {self.kind}"
