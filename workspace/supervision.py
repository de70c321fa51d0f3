"""The supervisors' planning pages: the breach forecast and workload balancing (issue 17).

Kept apart from ``workspace.views`` so that each page's reads and forms stay together;
every page is for supervisors of the agencies shown, and everything it does goes
through ``workflows.forecast``, ``workflows.balancing`` and the route's actions.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from workflows import forecast
from workspace.views import SupervisorMixin, WorkspaceMixin


class ForecastView(SupervisorMixin, WorkspaceMixin, TemplateView):
    """Supervisor: the cases forecast to miss a deadline in the next ten working days, each
    with the reason, and the model that made the forecast."""

    title = _("Breach forecast")
    template_name = "workspace/agency_forecast.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = forecast.forecast_for(self.request.user)
        context.update(
            breaches=[row for row in rows if row.breach],
            safe=[row for row in rows if not row.breach],
            model=forecast.MODEL % {"horizon": forecast.HORIZON, "window": forecast.WINDOW},
            horizon=forecast.HORIZON,
        )
        return context
