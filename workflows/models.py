"""The route's own tables."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Agency

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
        indexes = [models.Index(fields=["agency", "figure", "week"])]

    def __str__(self) -> str:
        return f"{self.figure} {self.week or ''} ×{self.count}"
