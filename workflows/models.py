"""The route's own tables: the supervisors' figures (a summary the worker refreshes) and what
the route keeps to balance work (issue 17): officers' absences, capacity and skills, and each bulk
assignment a supervisor applied (so that it can be undone for 10 minutes).

The tasks themselves are viewflow's; who may take which is ``cases.access``'s alone.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Agency, ListType

# --- the supervisors' figures: a summary the worker refreshes (``workflows.metrics``) ---------


class MetricsSnapshot(models.Model):
    """When an agency's figures were last computed: the dashboard's "as of"."""

    agency = models.OneToOneField(
        Agency, on_delete=models.CASCADE, related_name="+", verbose_name=_("agency")
    )
    computed_at = models.DateTimeField(_("computed at"))
    as_of = models.DateField(_("as of"))
    seconds = models.FloatField(
        default=0, help_text=_("How long the computation took."), verbose_name=_("seconds")
    )
    # The officers, lists and steps its facts name (``workflows.metrics.facts_dimensions``).
    dimensions = models.JSONField(_("dimensions"), default=dict, blank=True)

    class Meta:
        verbose_name = _("metrics snapshot")
        verbose_name_plural = _("metrics snapshots")

    def __str__(self) -> str:
        return f"{self.agency} as of {self.computed_at:%Y-%m-%d %H:%M}"


class MetricsFact(models.Model):
    """``count`` things of one figure with these dimensions (``cases.metrics.Fact``).

    Rewritten whole for an agency at each refresh; the dashboard sums them.
    """

    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="+", verbose_name=_("agency")
    )
    figure = models.CharField(max_length=10, verbose_name=_("figure"))
    week = models.DateField(null=True, blank=True, verbose_name=_("week"))
    step = models.CharField(max_length=20, blank=True, verbose_name=_("step"))
    list_code = models.CharField(max_length=40, blank=True, verbose_name=_("list code"))
    officer_id = models.IntegerField(null=True, blank=True, verbose_name=_("officer id"))
    kind = models.CharField(max_length=16, blank=True, verbose_name=_("kind"))
    tier = models.CharField(max_length=10, blank=True, verbose_name=_("tier"))
    platform = models.CharField(max_length=40, blank=True, verbose_name=_("platform"))
    value = models.IntegerField(default=0, verbose_name=_("value"))
    count = models.IntegerField(verbose_name=_("count"))

    class Meta:
        verbose_name_plural = _("metrics facts")
        verbose_name = _("metrics fact")
        # A view the refresh did not sum reads, of the figures its filters narrow, only
        # the facts of the step, list or officer filtered by (``workflows.metrics``).
        indexes = [
            models.Index(fields=["agency", "figure", "week"]),
            models.Index(fields=["agency", "step", "figure", "week"], name="metrics_fact_by_step"),
            models.Index(
                fields=["agency", "list_code", "figure", "week"], name="metrics_fact_by_list"
            ),
            models.Index(
                fields=["agency", "officer_id", "figure", "week"], name="metrics_fact_by_officer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.figure} {self.week or ''} ×{self.count}"


class MetricsSummary(models.Model):
    """One agency's figures under one view (filters and period), summed from its facts.

    The refresh sums the views a supervisor opens first (no filter, and each step, list
    and officer alone, over the last twelve weeks); any other view is summed on its first
    request and kept here for every web process. A view of several agencies adds up their
    summaries. ``computed_at`` is the agency's refresh they come from: older ones are not
    read (the refresh deletes them).
    """

    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="+", verbose_name=_("agency")
    )
    view = models.CharField(_("view"), max_length=200)
    computed_at = models.DateTimeField(_("computed at"))
    groups = models.JSONField(_("sums"), default=dict)

    class Meta:
        verbose_name = _("metrics summary")
        verbose_name_plural = _("metrics summaries")
        constraints = [
            models.UniqueConstraint(fields=["agency", "view"], name="metrics_summary_one_per_view")
        ]

    def __str__(self) -> str:
        return f"{self.agency} {self.view}"


class MetricsScopeSummary(models.Model):
    """Several agencies' figures under one view, their summaries added up once.

    ``scope`` names the agencies and the refresh each comes from
    (``workflows.metrics.scope_key``): once any of them is refreshed the agencies make a new
    scope, so an older row is never read (the next refresh deletes it). The refresh adds up
    the first views and the weekly running totals of each set of agencies a supervisor or
    an auditor reads together; any other view is added up on its first request.
    """

    scope = models.CharField(_("scope"), max_length=64)
    view = models.CharField(_("view"), max_length=200)
    agencies = models.JSONField(_("agencies"), default=list)
    groups = models.JSONField(_("sums"), default=dict)

    class Meta:
        verbose_name = _("metrics summary of several agencies")
        verbose_name_plural = _("metrics summaries of several agencies")
        constraints = [
            models.UniqueConstraint(fields=["scope", "view"], name="metrics_scope_one_per_view")
        ]

    def __str__(self) -> str:
        return f"{self.scope[:8]} {self.view}"


class Absence(models.Model):
    """A span of days an officer is away: no work is proposed to them, and the forecast
    does not count them on those days."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="absences",
        verbose_name=_("officer"),
    )
    starts_on = models.DateField(_("first day away"))
    ends_on = models.DateField(_("last day away"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        verbose_name=_("declared by"),
    )
    created_at = models.DateTimeField(_("declared at"), auto_now_add=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["starts_on", "id"]
        indexes = [models.Index(fields=["user", "ends_on"])]

    def __str__(self) -> str:
        return f"{self.user} {self.starts_on}–{self.ends_on}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The last day away cannot come before the first.")})

    def covers(self, day: datetime.date) -> bool:
        return self.starts_on <= day <= self.ends_on


class WorkProfile(models.Model):
    """How much work an officer takes and what they know best: the balancing weighs it."""

    LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="work_profile",
        verbose_name=_("officer"),
    )
    cases_per_day = models.DecimalField(
        _("cases a working day"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Leave empty for the usual load."),
    )
    share = models.PositiveSmallIntegerField(
        _("share of a full load (%)"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("100 for full time; 50 for someone who works half their time on cases."),
    )
    list_types = models.ManyToManyField(
        ListType, blank=True, related_name="+", verbose_name=_("lists they know")
    )
    languages = models.JSONField(_("languages"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("work profile")
        verbose_name_plural = _("work profiles")

    def __str__(self) -> str:
        return str(self.user)

    def capacity(self) -> float:
        """Cases a working day this officer is expected to take (1 when not declared),
        times their share."""
        per_day = float(self.cases_per_day) if self.cases_per_day is not None else 1.0
        return per_day * self.share / 100


class AssignmentBatch(models.Model):
    """One bulk assignment a supervisor applied; undone as a whole within 10 minutes."""

    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("supervisor"),
    )
    created_at = models.DateTimeField(_("applied at"), default=timezone.now)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assignment batch")
        verbose_name_plural = _("assignment batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.supervisor} {self.created_at:%Y-%m-%d %H:%M}"


class AssignmentBatchItem(models.Model):
    """One task a batch gave to an officer, the event that recorded it and why."""

    batch = models.ForeignKey(
        AssignmentBatch, on_delete=models.CASCADE, related_name="items", verbose_name=_("batch")
    )
    task = models.ForeignKey(
        "viewflow.Task", on_delete=models.CASCADE, related_name="+", verbose_name=_("task")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("assignee"),
    )
    event_id = models.BigIntegerField(_("event"))
    reason = models.TextField(_("reason"))
    undone = models.BooleanField(_("undone"), default=False)
    undo_refused = models.TextField(_("why undo was refused"), blank=True)

    class Meta:
        verbose_name = _("assignment batch item")
        verbose_name_plural = _("assignment batch items")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"task {self.task_id} → {self.assignee}"
