"""Officers' pages: inbox, queue, archive, cases, the case page, and doing a task.

Views translate between HTTP and the route: reads come from ``workflows.selectors``
(scoped to the person's agencies), writes go through ``workflows.actions``. A
``RedressError`` from a service is shown to the person on the page with its HTTP
status, never as a server error.
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView
from viewflow.workflow.models import Task

from cases import access, accounts, rules
from cases.acknowledgement_times import acknowledgement_times
from cases.errors import RedressError
from cases.held import answers_kept
from cases.ids import id_parse
from cases.keyset import CURSOR_PARAMETER, BadCursor, KeysetPage, page_by_key
from cases.models import Case, Deadline, Material, Record, Role, legal_review_grounds_text
from cases.publications import effect_words, effects_overdue, platform_name
from cases.rules import PLAN_FAILURE_STATUSES
from cases.selectors import api_token_of, api_tokens_of
from cases.uploads import ALLOWED_TYPES, sanitise_name
from cases.vocabulary import actor_role_label, event_label, timeline_rows
from documents import services as documents_services
from documents.models import Letter
from documents.selectors import (
    appeal_window,
    letter_of_supervised_agency,
    letter_services_of,
    letters_failed_for,
    letters_of_case,
    letters_unserved,
)
from notifications import reconciliation
from notifications.delivery import message_retry
from notifications.selectors import messages_dead_for
from workflows import actions, selectors
from workflows.nodes import step_label
from workspace.forms import (
    AppealForm,
    AppealOutcomeForm,
    BulkAssignForm,
    CaseFilterForm,
    DeadlineExtendForm,
    DecisionMeetingForm,
    LetterServiceForm,
    PlanFailureForm,
    RevocationForm,
    RevocationReviewForm,
    RevocationSignForm,
    TaskAssignForm,
    TieDeclareForm,
    task_form,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 25

# Evidence a browser may show inline (uploads are checked by content to be one of these).
INLINE_TYPES = set(ALLOWED_TYPES)
EVIDENCE_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def home(request):
    """``/``: officers go to their workspace, entities (and people who just signed up) to
    the portal, administrators to the admin; anyone else logs in first."""
    if not request.user.is_authenticated:
        return redirect("login")
    if access.is_agency_member(request.user):
        return redirect("workspace:index")
    if request.user.is_staff and not request.user.representations.exists():
        return redirect("admin:index")
    return redirect("portal:index")


def workspace_index(request):
    """The workspace's start page: an officer's inbox, an auditor's case list."""
    if access.is_officer(request.user):
        return redirect("workspace:inbox")
    return redirect("workspace:cases")


def process_detail(request, process_pk: int, **kwargs):
    """viewflow's process page: the case page shows the process, scoped to the agency."""
    process_pk = id_parse(process_pk)  # the URL's digits may exceed the database's integer
    case = (
        selectors.cases_for_officer(request.user).filter(process_id=process_pk).first()
        if process_pk is not None
        else None
    )
    if case is None:
        raise Http404("No such case.")
    return redirect("workspace:case", pk=case.pk)


# --- the frame every page shares ------------------------------------------------------------


def page_of(queryset, request, list_name: str, size: int = PAGE_SIZE) -> KeysetPage:
    """One page of a list by key (``cases.keyset``): no COUNT over a permission-filtered
    list, and no OFFSET, so a page deep in the queue costs what the first one does.
    ``BadCursor`` for a cursor this list did not issue (the views answer 400)."""
    return page_by_key(queryset, request.GET.get(CURSOR_PARAMETER), salt=list_name, size=size)


def bad_cursor_page(request) -> HttpResponse:
    """400: the page link was edited or belongs to another list; offer the first page."""
    return render(
        request,
        "400.html",
        {"message": BadCursor.message, "back_url": request.path},
        status=400,
    )


class KeysetListMixin:
    """A list paged by key: a forged or stale-format cursor is a 400 page, never a 500."""

    def get(self, request, *args, **kwargs):
        try:
            return super().get(request, *args, **kwargs)
        except BadCursor:
            return bad_cursor_page(request)


def frame_context(user, title="") -> dict:
    """What the frame of every workspace page needs: the menu shows what the person may use."""
    return {
        "title": title,
        "is_supervisor": bool(access.agency_ids(user, Role.SUPERVISOR)),
        "is_officer": access.is_officer(user),
        "is_auditor": bool(access.agency_ids(user, Role.AUDITOR)),
    }


class WorkspaceMixin:
    """Context every page of the workspace needs (the menu shows what the person may use)."""

    title = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(frame_context(self.request.user, self.title))
        return context


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- task lists ---------------------------------------------------------------------------------


class TaskListView(KeysetListMixin, WorkspaceMixin, TemplateView, metaclass=ABCMeta):
    """A page of tasks; each list says which tasks it shows."""

    template_name = "workspace/task_list.html"
    list_name = ""
    empty_text = ""

    @abstractmethod
    def tasks(self):
        """The queryset of tasks this list shows to ``self.request.user``."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = page_of(self.tasks(), self.request, self.list_name)
        context.update(
            page=page,
            rows=[(task, step_label(task)) for task in page.rows],
            list_name=self.list_name,
            empty_text=self.empty_text,
        )
        return context


class InboxView(TaskListView):
    title = _("Inbox")
    list_name = "inbox"
    empty_text = _("No task is assigned to you.")

    def tasks(self):
        return selectors.tasks_inbox(self.request.user)


class QueueView(TaskListView):
    title = _("Queue")
    list_name = "queue"
    empty_text = _("No unassigned task waits for your roles.")

    def tasks(self):
        return selectors.tasks_queue(self.request.user)


class ArchiveView(TaskListView):
    title = _("Archive")
    list_name = "archive"
    empty_text = _("You have not completed any task yet.")

    def tasks(self):
        return selectors.tasks_archive(self.request.user)


class SupervisorMixin:
    """The supervisors' pages and actions (tasks, problems, forecast, balancing, team)."""

    def dispatch(self, request, *args, **kwargs):
        if not access.agency_ids(request.user, Role.SUPERVISOR):
            raise PermissionDenied(gettext("This is for an agency's supervisors only."))
        return super().dispatch(request, *args, **kwargs)


class AgencyQueueView(SupervisorMixin, TaskListView):
    """Supervisor: the agency's open tasks; assign the unassigned ones in bulk."""

    title = _("Agency tasks")
    list_name = "agency"
    template_name = "workspace/agency_tasks.html"

    @property
    def show_assigned(self) -> bool:
        return self.request.GET.get("assigned") == "1"

    @property
    def empty_text(self):
        if self.show_assigned:
            return _("No task of your agency is assigned.")
        return _("No task of your agency waits to be assigned.")

    def tasks(self):
        tasks = selectors.tasks_of_agency(self.request.user)
        return tasks.filter(owner__isnull=not self.show_assigned)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Offered: whoever the assignment accepts for at least one task of the page (a
        # posted choice is checked against every officer of the agencies instead, so that
        # each task the person may not take is reported with the reason).
        offered = selectors.assignees_for_tasks(
            self.request.user, [task.pk for task, _step in context["rows"]]
        )
        form = kwargs.get("form") or BulkAssignForm(officers=offered)
        form.fields["assignee"].queryset = offered
        context.update(show_assigned=self.show_assigned, form=form)
        return context


class AgencyProblemsView(SupervisorMixin, WorkspaceMixin, TemplateView):
    """Supervisor: messages given up after every retry, letters that failed to render, what
    platforms hold that they should not (reconciliation), and how long each platform takes
    to acknowledge.

    Nothing is lost: each can be sent or rendered again from here.
    """

    title = _("Delivery and letter problems")
    template_name = "workspace/agency_problems.html"

    def get_context_data(self, **kwargs):

        context = super().get_context_data(**kwargs)
        context.update(
            dead_messages=list(messages_dead_for(self.request.user)[:100]),
            failed_letters=list(letters_failed_for(self.request.user).select_related("case")[:100]),
            mismatches=list(reconciliation.mismatches_for(self.request.user)[:200]),
            resendable=reconciliation.RESENDABLE,
            platform_times=acknowledgement_times(
                access.agency_ids(self.request.user, Role.SUPERVISOR)
            ),
            effects_overdue=[
                (effect, platform_name(effect.publication.platform), effect_words(effect))
                for effect in effects_overdue(access.agency_ids(self.request.user, Role.SUPERVISOR))
            ],
        )
        return context


class MismatchActionView(SupervisorMixin, View):
    """Supervisor: send a mismatch's withdrawal again, or resolve it with a note."""

    action = "resend"

    def post(self, request, pk: int):
        mismatch = reconciliation.mismatches_for(request.user).filter(pk=pk).first()
        if mismatch is None:
            raise Http404("No such mismatch.")
        try:
            if self.action == "resend":
                reconciliation.mismatch_resend(mismatch=mismatch, by=request.user)
            else:
                reconciliation.mismatch_resolve(
                    mismatch=mismatch, by=request.user, note=request.POST.get("note", "")
                )
        except RedressError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("The withdrawal of %(record)s is sent to %(platform)s again.")
                % {"record": mismatch.decision_no, "platform": mismatch.platform.localized_name()}
                if self.action == "resend"
                else gettext("The mismatch about %(record)s is resolved.")
                % {"record": mismatch.decision_no},
            )
        return redirect("workspace:agency_problems")


class MessageRetryView(SupervisorMixin, View):
    """Supervisor: send a dead message again."""

    def post(self, request, pk: int):

        message = messages_dead_for(request.user).filter(pk=pk).first()
        if message is None:
            raise Http404("No such message.")
        try:
            message_retry(message=message, by=request.user)
        except RedressError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("Message %(number)s is queued again.") % {"number": message.pk},
            )
        return redirect("workspace:agency_problems")


class LetterRetryView(View):
    """A supervisor re-queues a letter that failed to render (the supervisors' page)."""

    def post(self, request, pk: int):
        letter = letter_of_supervised_agency(request.user, pk)
        if letter is None:
            raise Http404("No such letter.")
        try:
            documents_services.letter_retry(letter, by=request.user)
        except RedressError as exc:
            return JsonResponse(exc.as_dict(), status=exc.http_status)
        next_url = request.POST.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
            return redirect(next_url)
        return JsonResponse({"status": letter.status, "letter": letter.pk})


class BulkAssignView(SupervisorMixin, View):
    """Supervisor: give the ticked unassigned tasks to an officer; report each one skipped."""

    def post(self, request):
        supervisor = request.user
        form = BulkAssignForm(request.POST, officers=selectors.officers_of_agencies(supervisor))
        if not form.is_valid():
            view = AgencyQueueView(request=request, args=(), kwargs={})
            context = view.get_context_data(form=form)
            return TemplateResponse(request, view.template_name, context, status=400)
        assignee = form.cleaned_data["assignee"]
        ids = form.cleaned_data["tasks"]
        tasks = {
            task.pk: task
            for task in selectors.tasks_of_agency(supervisor).filter(pk__in=ids).order_by("id")
        }
        result = actions.BulkResult()
        for pk in ids:
            if pk not in tasks:
                result.skipped[pk] = gettext("No such open task in your agency.")
        outcome = actions.tasks_assign(
            tasks=list(tasks.values()),
            supervisor=supervisor,
            assignee=assignee,
            only_unassigned=True,
        )
        result.done.extend(outcome.done)
        result.skipped.update(outcome.skipped)
        if result.done:
            messages.success(
                request,
                gettext("Assigned to %(user)s: %(tasks)s.")
                % {
                    "user": assignee.get_username(),
                    "tasks": ", ".join(_task_name(tasks[pk]) for pk in result.done),
                },
            )
        for pk, reason in sorted(result.skipped.items()):
            messages.warning(
                request,
                gettext("Skipped %(task)s: %(reason)s")
                % {"task": _task_name(tasks[pk]) if pk in tasks else f"#{pk}", "reason": reason},
            )
        return redirect("workspace:agency_tasks")


def _task_name(task: Task) -> str:
    case = task.process.case
    return f"#{task.pk} {case.reference} {step_label(task)}"


# --- cases -----------------------------------------------------------------------------------


class CaseListView(KeysetListMixin, WorkspaceMixin, TemplateView):
    title = _("Cases")
    template_name = "workspace/case_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = CaseFilterForm(self.request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        cases = selectors.cases_for_officer(
            self.request.user,
            status=filters.get("status", ""),
            kind=filters.get("kind", ""),
            search=filters.get("q", ""),
        )
        context.update(form=form, page=page_of(cases, self.request, "cases"))
        return context


@dataclass
class TaskRow:
    """An open task of the case as this person may act on it."""

    task: Task
    label: str
    mine: bool = False
    can_claim: bool = False
    can_release: bool = False
    why_not: str = ""
    form: object = None
    assign_form: object = None


class CaseDetailView(WorkspaceMixin, TemplateView):
    template_name = "workspace/case_detail.html"

    def get(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        return self.render_case(case)

    def render_case(
        self,
        case,
        *,
        status=200,
        bound_task=None,
        bound_form=None,
        extend=None,
        revocation=None,
        meeting=None,
        plan_failure=None,
        revocation_step=None,
        service=None,
    ):
        """The case page; ``bound_form`` re-shows the posted form of ``bound_task``,
        ``revocation`` the posted revocation form, ``meeting`` the posted meeting form,
        ``plan_failure`` the failed plan's, ``revocation_step`` the posted form of a
        revocation's legal review or signature."""
        # The page asks whether the person has a tie to the subject, and so does each task
        # row's eligibility: the answer is looked up once (cases.held).
        with answers_kept(case):
            context = self.get_context_data(
                case=case,
                bound_task=bound_task,
                bound_form=bound_form,
                extend=extend,
                revocation=revocation,
                meeting=meeting,
                plan_failure=plan_failure,
                revocation_step=revocation_step,
                service=service,
            )
        # A form sent from the case page comes back here: the language switch goes back
        # to the case page, not to the form's address.
        context["page_url"] = reverse("workspace:case", args=[case.pk])
        return self.render_to_response(context, status=status)

    def get_context_data(
        self,
        *,
        case,
        bound_task=None,
        bound_form=None,
        extend=None,
        revocation=None,
        meeting=None,
        plan_failure=None,
        revocation_step=None,
        service=None,
        **kwargs,
    ):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        detail = selectors.case_detail(case)
        roles = access.roles_at(user, case.agency_id)
        # An officer with a tie to the subject reads the case but acts on nothing of it
        # (APL Art. 43): no assigning, no extending; each task says why not.
        conflict = None
        if roles & access.OFFICER_ROLES:
            conflict = access.conflict_of_interest(user, case.subject_id)
        is_supervisor = Role.SUPERVISOR in roles and conflict is None
        rows = [
            self.task_row(task, case, detail, roles, bound_task, bound_form, conflict)
            for task in detail.open_tasks
        ]
        extend_forms = {}
        if is_supervisor:
            for deadline in detail.deadlines:
                if deadline.status != Deadline.Status.RUNNING:
                    continue
                if extend is not None and extend[0] == deadline.pk:
                    extend_forms[deadline.pk] = extend[1]
                else:
                    extend_forms[deadline.pk] = DeadlineExtendForm(
                        auto_id=f"id_extend_{deadline.pk}_%s"
                    )
        # A signing official of the agency, with no tie to the subject, may propose to
        # revoke an approved restoration (NDRC Order 36 Art. 25, SAMR Order 107 Art. 23);
        # nobody else is offered the form. The legal reviewer and the signers of a
        # proposal are offered theirs (decision 0016).
        may_revoke = (
            Role.SIGNER in roles
            and conflict is None
            and case.status in rules.REVOCABLE_STATUSES
            and rules.revocation_refusal(case, user) is None
        )
        # A case officer of the agency, with no tie to the subject, records that the court
        # terminated the plan of a granted temporary restoration (Order 36 Art. 20).
        may_record_failure = (
            Role.CASE_OFFICER in roles
            and conflict is None
            and case.kind == Case.Kind.REORGANISATION
            and case.status in PLAN_FAILURE_STATUSES
            and case.case_records.filter(record__status=Record.Status.SHIELDED).exists()
        )
        timeline = []
        rule_shown = ""
        events = timeline_rows(detail.events)
        titles = rules.rule_titles(row.event.rule_version for row in events)
        for row in events:
            event = row.event
            # The rule set a row was recorded under, once where it starts to apply, named
            # for a reader.
            rule = titles.get(event.rule_version, "") if event.rule_version != rule_shown else ""
            rule_shown = event.rule_version or rule_shown
            what = row.label or event_what(event)
            timeline.append((event, what, actor_role_label(event.actor_role), rule))
        context.update(service_context(case, roles, conflict, service or {}))
        context.update(
            plan_failure_form=(plan_failure or PlanFailureForm()) if may_record_failure else None,
            meeting_form=(meeting or meeting_form(case))
            if may_record_meeting(case, detail, roles, conflict)
            else None,
            legal_review_grounds=case.legal_review_grounds_text(),
            statement_periods=[d for d in detail.deadlines if d.step == Deadline.Step.STATEMENT],
            title=case.reference,
            case=case,
            detail=detail,
            task_rows=rows,
            case_supervisor=is_supervisor,
            recusal=conflict.message(action=gettext("act on this case as an officer"))
            if conflict is not None
            else "",
            extend_forms=extend_forms,
            revocation_form=(revocation or RevocationForm()) if may_revoke else None,
            revocation_step_forms=self.revocation_step_forms(case, conflict, revocation_step),
            revocation_evidence={item.pk for item in detail.revocation.evidence.all()}
            if detail.revocation
            else set(),
            deadline_rows=[(d, extend_forms.get(d.pk)) for d in detail.deadlines],
            timeline=timeline,
            notes=[row for row in timeline if row[0].note],
            missing_materials=[
                (Material(m["material"]).label if m.get("material") in Material.values else "", m)
                for m in case.missing_materials
            ],
        )
        return context

    def revocation_step_forms(self, case, conflict, bound) -> list[tuple]:
        """(form, title, action) for the revocation step the person may do now, if any."""
        if conflict is not None:
            return []
        user = self.request.user
        forms_ = []
        for step, refusal, form_class, title in REVOCATION_STEPS:
            if refusal(case, user) is None:
                form = bound[1] if bound is not None and bound[0] == step else form_class()
                forms_.append(
                    (
                        form,
                        title,
                        reverse(f"workspace:case_revocation_{step}", kwargs={"pk": case.pk}),
                    )
                )
        return forms_

    def task_row(self, task, case, detail, roles, bound_task, bound_form, conflict) -> TaskRow:
        user = self.request.user
        node = task.flow_task
        row = TaskRow(task=task, label=step_label(task))
        role = getattr(node, "role", None)
        if task.owner_id == user.pk:
            row.mine = True
            row.can_release = True
            row.why_not = node.ineligibility(user, task, case) or ""
            if not row.why_not:
                if bound_task is not None and bound_task.pk == task.pk:
                    row.form = bound_form
                else:
                    row.form = task_form(node.name, case=case, detail=detail)
        elif task.owner_id is None and role in roles:
            row.why_not = node.ineligibility(user, task, case) or ""
            row.can_claim = not row.why_not
        if Role.SUPERVISOR in roles and role is not None and conflict is None:
            row.can_release = row.can_release or task.owner_id is not None
            # Offered: exactly the people the assignment accepts (role, ties, four eyes).
            row.assign_form = TaskAssignForm(
                officers=selectors.assignees_for(task, case), auto_id=f"id_task_{task.pk}_%s"
            )
        return row


# --- doing a task -----------------------------------------------------------------------------


class TaskActionView(View, metaclass=ABCMeta):
    """A POST about one task of a case of the person's agencies (404 for any other)."""

    def post(self, request, pk):
        task = selectors.task_for_officer(request.user, pk)
        case = task.process.case
        return self.act(request, task, case)

    @abstractmethod
    def act(self, request, task, case):
        """Do the action and answer the request."""

    def back_to_case(self, request, case):
        return HttpResponseRedirect(
            _safe_next(request, reverse("workspace:case", kwargs={"pk": case.pk}))
        )


class TaskClaimView(TaskActionView):
    def act(self, request, task, case):
        try:
            actions.task_claim(task=task, user=request.user)
        except RedressError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("You took %(step)s of %(case)s.")
                % {"step": step_label(task), "case": case.reference},
            )
        return self.back_to_case(request, case)


class TaskReleaseView(TaskActionView):
    def act(self, request, task, case):
        try:
            actions.task_release(task=task, user=request.user)
        except RedressError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("%(step)s of %(case)s is back in the queue.")
                % {"step": step_label(task), "case": case.reference},
            )
        return self.back_to_case(request, case)


class TaskAssignView(TaskActionView):
    """Supervisor: give one task (claimed or not) to an eligible officer of the agency."""

    def act(self, request, task, case):
        if not access.has_role(request.user, Role.SUPERVISOR, case.agency_id):
            raise PermissionDenied(gettext("Only a supervisor of the agency can assign its tasks."))
        # Checked against everyone holding the step's role at the agency (a wider list than
        # offered), so that the service says why one of them cannot take the task.
        officers = selectors.officers_for(case, getattr(task.flow_task, "role", ""))
        form = TaskAssignForm(request.POST, officers=officers)
        if not form.is_valid():
            messages.error(
                request, gettext("Choose an officer of the agency who holds the step's role.")
            )
            return self.back_to_case(request, case)
        assignee = form.cleaned_data["assignee"]
        result = actions.tasks_assign(tasks=[task], supervisor=request.user, assignee=assignee)
        if result.done:
            messages.success(
                request,
                gettext("%(step)s is now assigned to %(user)s.")
                % {"step": step_label(task), "user": assignee.get_username()},
            )
        for reason in result.skipped.values():
            messages.error(request, reason)
        return self.back_to_case(request, case)


class TaskCompleteView(TaskActionView):
    """Do the step with the posted decision; a refusal re-shows the form with its status."""

    def act(self, request, task, case):
        detail = selectors.case_detail(case)
        form = task_form(task.flow_task.name, case=case, detail=detail, data=request.POST)
        if form is None:
            raise Http404("This step is done by the system.")
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        try:
            actions.task_ensure_open(task)  # a closed task: say so before judging the form
        except RedressError as exc:
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, bound_task=task, bound_form=form)
        try:
            actions.task_complete(task=task, user=request.user, data=form.to_data())
        except RedressError as exc:
            messages.error(request, exc.message)
            case = selectors.case_for_officer(request.user, case.pk)
            return page.render_case(case, status=exc.http_status, bound_task=task, bound_form=form)
        messages.success(
            request,
            gettext("%(step)s of %(case)s is done.")
            % {"step": step_label(task), "case": case.reference},
        )
        return redirect("workspace:case", pk=case.pk)


class DeadlineExtendView(View):
    """Supervisor: extend a running deadline of the case by working days, naming why."""

    def post(self, request, pk, deadline_pk):
        case = selectors.case_for_officer(request.user, pk)
        deadline = Deadline.objects.filter(pk=deadline_pk, case=case).first()
        if deadline is None:
            raise Http404("No such deadline.")
        form = DeadlineExtendForm(request.POST, auto_id=f"id_extend_{deadline.pk}_%s")
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, extend=(deadline.pk, form))
        try:
            actions.deadline_extend(
                case=case,
                supervisor=request.user,
                step=deadline.step,
                days=form.cleaned_data["days"],
                reason=form.cleaned_data["reason"],
            )
        except RedressError as exc:
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status, extend=(deadline.pk, form))
        messages.success(request, gettext("The deadline was extended."))
        return redirect("workspace:case", pk=case.pk)


class CaseRevokeView(View):
    """A signing official proposes to revoke an approved restoration from the case page.

    Who may not revoke, or a case that cannot be revoked, is told so with its status
    (403, 409) before the form is judged; a form with a field missing comes back with
    it highlighted (400); a refusal of the revocation itself re-shows the form with the
    reason at its field.
    """

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        refusal = rules.revocation_refusal(case, request.user)
        if refusal is not None:
            messages.error(request, refusal.message)
            return page.render_case(case, status=refusal.http_status)
        form = RevocationForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, revocation=form)
        try:
            revocation = actions.case_revocation_propose(
                case=case, official=request.user, **form.to_data()
            )
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            case = selectors.case_for_officer(request.user, case.pk)
            return page.render_case(case, status=exc.http_status, revocation=form)
        messages.success(request, revocation_outcome_message(case, revocation))
        return redirect("workspace:case", pk=case.pk)


def event_what(event) -> str:
    """What the timeline says of an event: its label, and for the grounds of a legal review
    each ground with its article (APL Art. 58 ¶1)."""
    label = str(event_label(event.kind))
    if event.kind == "legal_review_grounds_recorded":
        grounds = legal_review_grounds_text(event.data.get("grounds"))
        if grounds:
            return f"{label}: {'; '.join(grounds)}"
    return label


def may_record_meeting(case, detail, roles, conflict) -> bool:
    """A signing official of the agency, with no tie to the subject, records the decision
    meeting of a case its rules decide collectively (APL Art. 57 ¶2), once per round."""
    return (
        Role.SIGNER in roles
        and conflict is None
        and case.status == Case.Status.SIGN_OFF
        and case.rule_set_id is not None
        and case.rule_set.collective_decision_required
        and not any(m.round == case.signoff_round for m in detail.meetings)
    )


def meeting_form(case, data=None, files=None) -> DecisionMeetingForm:
    return DecisionMeetingForm(
        data, files, people=access.people_holding(at=case.agency_id).order_by("username")
    )


class DecisionMeetingView(View):
    """A signing official records the collective decision meeting from the case page."""

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        form = meeting_form(case, request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, meeting=form)
        try:
            actions.meeting_record(case=case, signer=request.user, **form.to_data())
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status, meeting=form)
        messages.success(
            request,
            gettext("The decision meeting of %(case)s is on record: the signers may sign.")
            % {"case": case.reference},
        )
        return redirect("workspace:case", pk=case.pk)


def appeal_records_of(case) -> list:
    """The records of the case an appeal's change may name."""
    return list(
        Record.objects.filter(case_records__case=case)
        .select_related("list_type")
        .distinct()
        .order_by("pk")
    )


def service_context(case, roles, conflict, bound: dict) -> dict:
    """The service of the case's letters, the appeal window and the appeals, and the forms
    of who may record them (decision 0023): a case officer or intake officer of the
    agency records service; a case officer records appeals and outcomes. ``bound`` holds
    a posted form to show again: ``service``, ``appeal``, or ``("outcome", pk)``."""
    acting = conflict is None
    appeals = list(case.appeals.select_related("recorded_by").order_by("filed_on", "id"))
    letters = list(
        letters_of_case(case)
        .filter(status=Letter.Status.ISSUED)
        .select_related("service", "service__consent")
    )
    # The ones not yet served, from the same read (``letters_unserved`` answers the form's post).
    unserved = [letter for letter in letters if not hasattr(letter, "service")]
    may_serve = acting and bool(roles & {Role.CASE_OFFICER, Role.INTAKE}) and bool(unserved)
    may_appeal = (
        acting
        and Role.CASE_OFFICER in roles
        and (case.decided_at is not None or case.status == Case.Status.NOT_ACCEPTED)
    )
    return {
        "window": appeal_window(case, issued=letters),
        "services": list(letter_services_of(case).select_related("consent")),
        "letters": letters,
        "appeals": appeals,
        "service_form": (bound.get("service") or LetterServiceForm(letters=unserved))
        if may_serve
        else None,
        "appeal_form": (bound.get("appeal") or AppealForm()) if may_appeal else None,
        "outcome_forms": [
            (
                appeal,
                bound.get(("outcome", appeal.pk))
                or AppealOutcomeForm(
                    auto_id=f"id_outcome_{appeal.pk}_%s", records=appeal_records_of(case)
                ),
            )
            for appeal in appeals
            if appeal.is_pending
        ]
        if may_appeal
        else [],
    }


class CaseServiceView(View):
    """An officer records, from the case page, how a letter was served."""

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        form = LetterServiceForm(request.POST, letters=letters_unserved(case))
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, service={"service": form})
        letter = case.letters.get(pk=form.cleaned_data["letter"])
        try:
            actions.letter_serve(letter=letter, officer=request.user, **form.to_data())
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status, service={"service": form})
        messages.success(
            request,
            gettext("The service of letter %(code)s is recorded.") % {"code": letter.code_display},
        )
        return redirect("workspace:case", pk=case.pk)


class CaseAppealView(View):
    """A case officer records, from the case page, an appeal filed against the decision."""

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        form = AppealForm(request.POST)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, service={"appeal": form})
        try:
            actions.appeal_record(case=case, by=request.user, **form.cleaned_data)
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status, service={"appeal": form})
        messages.success(request, gettext("The appeal is recorded on the case."))
        return redirect("workspace:case", pk=case.pk)


class CaseAppealOutcomeView(View):
    """A case officer records the outcome of a pending appeal from the case page."""

    def post(self, request, pk, appeal_pk):
        case = selectors.case_for_officer(request.user, pk)
        appeal = case.appeals.filter(pk=appeal_pk).first()
        if appeal is None:
            raise Http404("No such appeal.")
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        form = AppealOutcomeForm(
            request.POST, auto_id=f"id_outcome_{appeal.pk}_%s", records=appeal_records_of(case)
        )
        key = ("outcome", appeal.pk)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, service={key: form})
        try:
            appeal = actions.appeal_outcome_record(
                appeal=appeal, by=request.user, **form.cleaned_data
            )
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            return page.render_case(case, status=exc.http_status, service={key: form})
        decided = case.events.filter(kind="appeal_decided").order_by("-seq").first()
        if appeal.outcome == appeal.Outcome.CHANGED and decided and decided.data.get("records"):
            messages.success(
                request,
                gettext(
                    "The outcome is recorded: every platform is asked to act on the records "
                    "the change concerns (%(records)s) within 3 working days (Administrative "
                    "Penalties Law, Article 48); the others stay as they are."
                )
                % {"records": "、".join(decided.data.get("record_numbers") or [])},
            )
        elif (
            appeal.outcome in appeal.WITHDRAWING_OUTCOMES
            and decided
            and decided.data.get("republications")
        ):
            messages.success(
                request,
                gettext(
                    "The outcome is recorded: every platform is asked to publish the records "
                    "again as they were before the approval within 3 working days "
                    "(Administrative Penalties Law, Article 48)."
                ),
            )
        elif appeal.outcome in appeal.WITHDRAWING_OUTCOMES:
            messages.success(
                request,
                gettext(
                    "The outcome is recorded: every platform is asked to withdraw the published "
                    "decision within 3 working days (Administrative Penalties Law, Article 48)."
                ),
            )
        else:
            messages.success(request, gettext("The outcome of the appeal is recorded."))
        return redirect("workspace:case", pk=case.pk)


def revocation_outcome_message(case, revocation) -> str:
    """What the person who acted on a revocation reads next."""
    status = revocation.status
    if status == revocation.Status.REVOKED:
        return gettext(
            "The restoration of %(case)s is revoked: its records are published again on "
            "every platform, the revocation decision is published, and the applicant is told."
        ) % {"case": case.reference}
    if status == revocation.Status.DROPPED:
        return gettext("The revocation of %(case)s is not pursued.") % {"case": case.reference}
    if status == revocation.Status.SIGN_OFF and revocation.signers.exists():
        return gettext(
            "Your signature is recorded; the revocation of %(case)s waits for another "
            "signing official."
        ) % {"case": case.reference}
    if status == revocation.Status.SIGN_OFF:
        return gettext(
            "The legal review passed: the revocation of %(case)s goes to the signing officials."
        ) % {"case": case.reference}
    return gettext(
        "The revocation of %(case)s is proposed: it goes to a legal reviewer, then to the "
        "signing officials."
    ) % {"case": case.reference}


# The steps of a proposed revocation after the proposal: who may (rules), the form, the title.
REVOCATION_STEPS = (
    (
        "review",
        rules.revocation_review_refusal,
        RevocationReviewForm,
        _("Legal review of the proposed revocation"),
    ),
    ("sign", rules.revocation_sign_refusal, RevocationSignForm, _("Sign the revocation")),
)


class CaseRevocationStepView(View):
    """The legal reviewer, then the signing officials, act on a proposed revocation.

    Who may not is told so with its status (403, 409) before the form is judged; a form
    with a field missing comes back with it highlighted (400).
    """

    step = ""

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        _step, refusal_of, form_class, _title = next(
            s for s in REVOCATION_STEPS if s[0] == self.step
        )
        refusal = refusal_of(case, request.user)
        if refusal is not None:
            messages.error(request, refusal.message)
            return page.render_case(case, status=refusal.http_status)
        form = form_class(request.POST)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, revocation_step=(self.step, form))
        try:
            if self.step == "review":
                revocation = actions.case_revocation_review(
                    case=case, reviewer=request.user, **form.to_data()
                )
            else:
                revocation = actions.case_revocation_sign(
                    case=case, signer=request.user, **form.to_data()
                )
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            messages.error(request, exc.message)
            case = selectors.case_for_officer(request.user, case.pk)
            return page.render_case(case, status=exc.http_status, revocation_step=(self.step, form))
        messages.success(request, revocation_outcome_message(case, revocation))
        return redirect("workspace:case", pk=case.pk)


class CasePlanFailureView(View):
    """A case officer records, from the case page, that the court terminated the plan of
    a granted temporary restoration; the shielded records are published again."""

    def post(self, request, pk):
        case = selectors.case_for_officer(request.user, pk)
        page = CaseDetailView(request=request, args=(), kwargs={"pk": case.pk})
        form = PlanFailureForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, gettext("Check the highlighted fields."))
            return page.render_case(case, status=400, plan_failure=form)
        try:
            actions.case_plan_fail(case=case, officer=request.user, **form.to_data())
        except RedressError as exc:
            messages.error(request, exc.message)
            case = selectors.case_for_officer(request.user, case.pk)
            return page.render_case(case, status=exc.http_status)
        messages.success(
            request,
            gettext("%(case)s: the plan failed; its records are published again on every platform.")
            % {"case": case.reference},
        )
        return redirect("workspace:case", pk=case.pk)


# --- ties to subjects ----------------------------------------------------------------------------


class TiesView(WorkspaceMixin, TemplateView):
    """An officer's ties to subjects: those on record, and a form to declare one.

    APL Art. 43: an officer with a tie to a case recuses themselves. A declared tie bars
    them from the subject's cases at once; only an administrator can end it.
    """

    title = _("My ties to subjects")
    template_name = "workspace/ties.html"

    def dispatch(self, request, *args, **kwargs):
        if not access.is_officer(request.user):
            raise PermissionDenied(gettext("Only an officer declares ties to subjects."))
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = kwargs.get("form") or TieDeclareForm(
            initial={"subject_code": self.request.GET.get("subject", "")[:18]}
        )
        context.update(
            form=form,
            ties=list(
                self.request.user.subject_ties.select_related("subject", "recorded_by")[:200]
            ),
            today=timezone.localdate(),
            subjects=list(access.subjects_tied_to(self.request.user)[:200]),
        )
        return context

    def post(self, request):
        form = TieDeclareForm(request.POST)
        if form.is_valid():
            try:
                tie = accounts.subject_tie_record(
                    user=request.user, recorded_by=request.user, **form.cleaned_data
                )
            except RedressError as exc:
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
            else:
                messages.success(
                    request,
                    gettext("Your tie to %(subject)s is on record: you no longer act on its cases.")
                    % {"subject": tie.subject.name},
                )
                return redirect("workspace:ties")
        messages.error(request, gettext("Check the highlighted fields."))
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- evidence files ------------------------------------------------------------------------------


class EvidenceFileView(View):
    """Stream an evidence file from storage to an officer of the case's agency.

    The content type is the one detected from the content at upload; ``nosniff``
    and a CSP ``sandbox`` keep a crafted file from running as a page of ours.
    """

    as_attachment = False

    def get(self, request, pk):
        evidence = selectors.evidence_for_officer(request.user, pk)
        inline = not self.as_attachment and evidence.content_type in INLINE_TYPES
        content_type = evidence.content_type if evidence.content_type in INLINE_TYPES else None
        try:
            content = evidence.file.storage.open(evidence.file.name, "rb")
        except FileNotFoundError:
            logger.error("Evidence %s (%s) is missing from storage", evidence.pk, evidence.sha256)
            raise Http404("The file of this evidence item is missing.") from None
        response = FileResponse(
            content,
            as_attachment=not inline,
            filename=sanitise_name(evidence.original_name),
            content_type=content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = EVIDENCE_CSP
        response["Cache-Control"] = "private, no-cache"
        response["Referrer-Policy"] = "no-referrer"
        return response


class EvidenceDownloadView(EvidenceFileView):
    as_attachment = True


class CaseLetterView(View):
    """An issued letter of a case of the officer's agency, as its PDF, shown in the browser.
    The case is checked on the object (``case_for_officer``); an officer opening it serves
    nothing (service is recorded on the case page)."""

    def get(self, request, pk, letter_pk):
        case = selectors.case_for_officer(request.user, pk)
        letter = letters_of_case(case).filter(pk=letter_pk, status=Letter.Status.ISSUED).first()
        if letter is None or not letter.pdf:
            raise Http404("No such letter.")
        try:
            handle = letter.pdf.open("rb")
        except FileNotFoundError:
            logger.error("Letter %s (%s) is missing from storage", letter.pk, letter.sha256)
            raise Http404("The letter's file is missing.") from None
        response = FileResponse(
            handle, as_attachment=False, filename=letter.file_name, content_type="application/pdf"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        return response


class ApiTokensView(WorkspaceMixin, TemplateView):
    """The officer's own API tokens that still work; POST revokes one (``token``) or all."""

    title = _("API tokens")
    template_name = "workspace/api_tokens.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            tokens=list(api_tokens_of(self.request.user)[:100]),
            token_hours=settings.REDRESS_API_TOKEN_HOURS,
        )
        return context

    def post(self, request):
        if request.POST.get("all"):
            count = accounts.api_tokens_revoke_all(
                user=request.user, reason="revoked by the holder on the token page"
            )
            messages.success(
                request,
                ngettext("%(count)s token is revoked.", "%(count)s tokens are revoked.", count)
                % {"count": count},
            )
        else:
            token = api_token_of(request.user, request.POST.get("token"))
            accounts.api_token_revoke(token=token, by=request.user)
            messages.success(
                request, gettext("Token %(prefix)s… is revoked.") % {"prefix": token.prefix}
            )
        return redirect("workspace:api_tokens")
