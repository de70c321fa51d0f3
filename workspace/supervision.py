"""The supervisors' planning pages: the breach forecast and workload balancing (issue 17).

Kept apart from ``workspace.views`` so that each page's reads and forms stay together;
every page is for supervisors of the agencies shown, and everything it does goes
through ``workflows.forecast``, ``workflows.balancing`` and the route's actions.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from cases import access
from cases.errors import RedressError
from cases.ids import id_parse
from workflows import balancing, forecast
from workflows.models import Absence, WorkProfile
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


# --- workload balancing ---------------------------------------------------------------------------


class AbsenceForm(forms.ModelForm):
    class Meta:
        model = Absence
        fields = ["starts_on", "ends_on", "note"]
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }


class WorkProfileForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=capfirst(_("languages")),
        choices=WorkProfile.LANGUAGES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WorkProfile
        fields = ["cases_per_day", "share", "list_types", "languages"]
        widgets = {"list_types": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A list is named in the reader's language (its str() is the English name).
        english = (get_language() or "").startswith("en")
        self.fields["list_types"].label_from_instance = lambda list_type: list_type.localized_name(
            "en" if english else "zh-hans"
        )


def _absence_save(request, user) -> bool:
    form = AbsenceForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return False
    absence = form.save(commit=False)
    absence.user = user
    absence.created_by = request.user
    absence.save()
    messages.success(
        request,
        gettext("Absence from %(start)s to %(end)s recorded.")
        % {"start": absence.starts_on, "end": absence.ends_on},
    )
    return True


class MyAbsencesView(WorkspaceMixin, TemplateView):
    """An officer declares the days they are away (no work is proposed to them then) and
    how much work they take and know best: the balancing and the forecast weigh both.
    Only their own: the form's officer is always the one signed in."""

    title = _("My capacity and absences")
    template_name = "workspace/absences.html"

    def dispatch(self, request, *args, **kwargs):
        if not access.is_officer(request.user):
            raise PermissionDenied(gettext("Only an officer declares absences."))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            absences=Absence.objects.filter(user=self.request.user),
            form=kwargs.get("form") or AbsenceForm(),
            profile_form=kwargs.get("profile_form")
            or WorkProfileForm(instance=balancing.profile_of(self.request.user)),
            person=self.request.user,
        )
        return context

    def post(self, request):
        if request.POST.get("form") == "profile":
            form = WorkProfileForm(request.POST, instance=balancing.profile_of(request.user))
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(profile_form=form))
            form.save()
            messages.success(request, gettext("Saved."))
            return redirect("workspace:absences")
        _absence_save(request, request.user)
        return redirect("workspace:absences")


class AbsenceDeleteView(View):
    """Remove an absence: one's own, or a supervisor's officer's."""

    def post(self, request, pk: int):
        absence = balancing.absences_editable_by(request.user).filter(pk=pk).first()
        if absence is None:
            raise Http404("No such absence.")
        owner_id = absence.user_id
        absence.delete()
        messages.success(request, gettext("The absence is removed."))
        if owner_id == request.user.pk:
            return redirect("workspace:absences")
        return redirect("workspace:team_member", owner_id)


class TeamMemberView(SupervisorMixin, WorkspaceMixin, TemplateView):
    """Supervisor: an officer's capacity, skills and absences."""

    template_name = "workspace/team_member.html"

    def person(self):
        person = balancing.team_member(self.request.user, self.kwargs["user_id"])
        if person is None:
            raise Http404("No such officer.")
        return person

    def get_context_data(self, **kwargs):
        person = self.person()
        self.title = gettext("Workload of %(person)s") % {"person": person.get_username()}
        context = super().get_context_data(**kwargs)
        context.update(
            person=person,
            profile_form=kwargs.get("profile_form")
            or WorkProfileForm(instance=balancing.profile_of(person)),
            form=AbsenceForm(),
            absences=Absence.objects.filter(user=person),
        )
        return context

    def post(self, request, user_id: int):
        person = self.person()
        if request.POST.get("form") == "absence":
            _absence_save(request, person)
            return redirect("workspace:team_member", person.pk)
        form = WorkProfileForm(request.POST, instance=balancing.profile_of(person))
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(profile_form=form))
        form.save()
        messages.success(request, gettext("Saved."))
        return redirect("workspace:team_member", person.pk)


class BalancingView(SupervisorMixin, WorkspaceMixin, TemplateView):
    """Supervisor: a proposal for every waiting task, each with its reason; apply it, and
    undo it within ten minutes."""

    title = _("Workload balancing")
    template_name = "workspace/balancing.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        recent = [
            (batch, balancing.undoable(batch, now))
            for batch in balancing.batches_of(self.request.user)[:5]
        ]
        team = balancing.team_of(self.request.user)
        away = balancing.absent_days(
            [p.pk for p in team], timezone.localdate(), timezone.localdate()
        )
        context.update(
            proposals=balancing.propose(self.request.user),
            recent=recent,
            team=[(person, person.pk in away) for person in team],
            undo_minutes=balancing.UNDO_MINUTES,
        )
        return context

    def post(self, request):
        ids = [whole for whole in (id_parse(v) for v in request.POST.getlist("task")) if whole]
        try:
            applied = balancing.apply(request.user, ids)
        except RedressError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:balancing")
        if applied.done:
            messages.success(
                request,
                ngettext(
                    "%(n)s task assigned. You can undo it for %(minutes)s minutes.",
                    "%(n)s tasks assigned. You can undo them for %(minutes)s minutes.",
                    len(applied.done),
                )
                % {"n": len(applied.done), "minutes": balancing.UNDO_MINUTES},
            )
        for proposal, reason in applied.skipped:
            messages.warning(request, f"{proposal.case.reference}: {reason}")
        return redirect("workspace:balancing")


class BalancingUndoView(SupervisorMixin, View):
    def post(self, request, pk: int):
        batch = balancing.batches_of(request.user).filter(pk=pk).first()
        if batch is None:
            raise Http404("No such assignment.")
        try:
            balancing.undo(request.user, batch)
        except RedressError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:balancing")
        items = list(batch.items.order_by("id"))  # fresh: the page prefetched them
        undone = sum(1 for item in items if item.undone)
        messages.success(
            request,
            ngettext("%(n)s assignment undone.", "%(n)s assignments undone.", undone)
            % {"n": undone},
        )
        for item in items:
            if item.undo_refused:
                messages.warning(request, item.undo_refused)
        return redirect("workspace:balancing")
