"""The officers' workspace on viewflow's frontend: a ``Site`` with one ``Application``.

Every page of the workspace is for people who work at or audit an agency: anonymous
visitors are sent to log in, anyone else (an entity's representative) gets 403.
The flows' own task URLs are mounted too, because viewflow links a task to its
execute URL (``workspace.views.task_execute`` sends the officer to the case page);
viewflow's dashboards and process lists are left out: they are not scoped to an
agency.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from viewflow.urls import Application, Site, route
from viewflow.workflow.flow.viewset import FlowViewset

from cases import access
from workflows.flows import ObjectionFlow, ReorganisationFlow, RestorationFlow
from workspace import exports, metrics, supervision, views


def workspace_view(view):
    """Log in first. viewflow registers its ``SiteMiddleware`` itself: it sets
    ``request.resolver_match.site``/``.app`` for the templates and refuses (403) anyone
    the application's ``has_view_permission`` does not let in."""
    return login_required(view)


class FlowSteps(FlowViewset):
    """A flow's task URLs only; its process page redirects to the case page."""

    process_list_path = None
    process_cancel_path = None
    task_list_path = None
    chart_path = None
    flow_chart_path = None

    @property
    def index_path(self):
        return path(
            "",
            workspace_view(RedirectView.as_view(pattern_name="workspace:index")),
            name="index",
        )

    @property
    def process_detail_path(self):
        return path(
            "<int:process_pk>/",
            workspace_view(views.process_detail),
            name="process_detail",
        )


class Workspace(Application):
    """Inbox, queue, archive, cases and the case page of an agency's officers."""

    app_name = "workspace"
    title = _("Credit casework")
    icon = "gavel"
    menu_template_name = "workspace/menu.html"

    def has_view_permission(self, user, obj=None):
        # Anonymous visitors pass here so that the view sends them to log in.
        return not user.is_authenticated or access.is_agency_member(user)

    index_path = path("", workspace_view(views.workspace_index), name="index")
    inbox_path = path("inbox/", workspace_view(views.InboxView.as_view()), name="inbox")
    queue_path = path("queue/", workspace_view(views.QueueView.as_view()), name="queue")
    archive_path = path("archive/", workspace_view(views.ArchiveView.as_view()), name="archive")
    agency_tasks_path = path(
        "agency/", workspace_view(views.AgencyQueueView.as_view()), name="agency_tasks"
    )
    agency_problems_path = path(
        "agency/problems/",
        workspace_view(views.AgencyProblemsView.as_view()),
        name="agency_problems",
    )
    metrics_path = path("agency/metrics/", workspace_view(metrics.metrics_page), name="metrics")
    metrics_csv_path = path(
        "agency/metrics.csv", workspace_view(metrics.metrics_csv), name="metrics_csv"
    )
    metrics_xlsx_path = path(
        "agency/metrics.xlsx", workspace_view(metrics.metrics_xlsx), name="metrics_xlsx"
    )
    message_retry_path = path(
        "agency/messages/<int:pk>/retry/",
        workspace_view(views.MessageRetryView.as_view()),
        name="message_retry",
    )
    mismatch_resend_path = path(
        "agency/mismatches/<int:pk>/resend/",
        workspace_view(views.MismatchActionView.as_view(action="resend")),
        name="mismatch_resend",
    )
    mismatch_resolve_path = path(
        "agency/mismatches/<int:pk>/resolve/",
        workspace_view(views.MismatchActionView.as_view(action="resolve")),
        name="mismatch_resolve",
    )
    letter_retry_path = path(
        "letters/<int:pk>/retry/",
        workspace_view(views.LetterRetryView.as_view()),
        name="letter_retry",
    )
    tasks_assign_path = path(
        "agency/assign/", workspace_view(views.BulkAssignView.as_view()), name="tasks_assign"
    )
    ties_path = path("ties/", workspace_view(views.TiesView.as_view()), name="ties")
    cases_path = path("cases/", workspace_view(views.CaseListView.as_view()), name="cases")
    case_path = path("cases/<int:pk>/", workspace_view(views.CaseDetailView.as_view()), name="case")
    deadline_extend_path = path(
        "cases/<int:pk>/deadlines/<int:deadline_pk>/extend/",
        workspace_view(views.DeadlineExtendView.as_view()),
        name="deadline_extend",
    )
    case_revoke_path = path(
        "cases/<int:pk>/revoke/",
        workspace_view(views.CaseRevokeView.as_view()),
        name="case_revoke",
    )
    case_meeting_path = path(
        "cases/<int:pk>/meeting/",
        workspace_view(views.DecisionMeetingView.as_view()),
        name="case_meeting",
    )
    case_service_path = path(
        "cases/<int:pk>/service/",
        workspace_view(views.CaseServiceView.as_view()),
        name="case_service",
    )
    case_appeal_path = path(
        "cases/<int:pk>/appeals/",
        workspace_view(views.CaseAppealView.as_view()),
        name="case_appeal",
    )
    case_appeal_outcome_path = path(
        "cases/<int:pk>/appeals/<int:appeal_pk>/outcome/",
        workspace_view(views.CaseAppealOutcomeView.as_view()),
        name="case_appeal_outcome",
    )
    case_letter_path = path(
        "cases/<int:pk>/letters/<int:letter_pk>/",
        workspace_view(views.CaseLetterView.as_view()),
        name="case_letter",
    )
    case_plan_failed_path = path(
        "cases/<int:pk>/plan-failed/",
        workspace_view(views.CasePlanFailureView.as_view()),
        name="case_plan_failed",
    )
    case_revocation_review_path = path(
        "cases/<int:pk>/revocation/review/",
        workspace_view(views.CaseRevocationStepView.as_view(step="review")),
        name="case_revocation_review",
    )
    case_revocation_sign_path = path(
        "cases/<int:pk>/revocation/sign/",
        workspace_view(views.CaseRevocationStepView.as_view(step="sign")),
        name="case_revocation_sign",
    )
    evidence_preview_path = path(
        "evidence/<int:pk>/preview/",
        workspace_view(views.EvidenceFileView.as_view()),
        name="evidence_preview",
    )
    evidence_download_path = path(
        "evidence/<int:pk>/download/",
        workspace_view(views.EvidenceDownloadView.as_view()),
        name="evidence_download",
    )
    api_tokens_path = path(
        "api-tokens/", workspace_view(views.ApiTokensView.as_view()), name="api_tokens"
    )
    task_claim_path = path(
        "tasks/<int:pk>/claim/", workspace_view(views.TaskClaimView.as_view()), name="task_claim"
    )
    task_release_path = path(
        "tasks/<int:pk>/release/",
        workspace_view(views.TaskReleaseView.as_view()),
        name="task_release",
    )
    task_assign_path = path(
        "tasks/<int:pk>/assign/",
        workspace_view(views.TaskAssignView.as_view()),
        name="task_assign",
    )
    task_complete_path = path(
        "tasks/<int:pk>/complete/",
        workspace_view(views.TaskCompleteView.as_view()),
        name="task_complete",
    )
    # The supervisors' planning pages (issue 17): workspace.supervision.
    agency_forecast_path = path(
        "agency/forecast/",
        workspace_view(supervision.ForecastView.as_view()),
        name="agency_forecast",
    )
    balancing_path = path(
        "agency/balancing/",
        workspace_view(supervision.BalancingView.as_view()),
        name="balancing",
    )
    balancing_undo_path = path(
        "agency/balancing/<int:pk>/undo/",
        workspace_view(supervision.BalancingUndoView.as_view()),
        name="balancing_undo",
    )
    team_member_path = path(
        "agency/team/<int:user_id>/",
        workspace_view(supervision.TeamMemberView.as_view()),
        name="team_member",
    )
    absences_path = path(
        "absences/", workspace_view(supervision.MyAbsencesView.as_view()), name="absences"
    )
    absence_delete_path = path(
        "absences/<int:pk>/delete/",
        workspace_view(supervision.AbsenceDeleteView.as_view()),
        name="absence_delete",
    )


class WorkflowSite(Site):
    """Redress on viewflow's frontend; the workspace is its one application."""

    title = _("Redress")
    menu_template_name = None  # one application: its own menu is enough
    index_path = None  # the workspace's index answers at the site's root

    workspace_path = route(
        "",
        Workspace(
            viewsets=[
                FlowSteps(ObjectionFlow),
                FlowSteps(RestorationFlow),
                FlowSteps(ReorganisationFlow),
            ]
        ),
    )


site = WorkflowSite()


class Exports(Application):
    """The auditor's exports at ``/exports/`` (namespace ``exports``), in the workspace's
    frame: its menu, sign-out and language switch."""

    app_name = "exports"
    title = _("Credit casework")
    icon = "archive"
    menu_template_name = "workspace/menu.html"

    def has_view_permission(self, user, obj=None):
        return not user.is_authenticated or access.is_agency_member(user)

    list_path = path("", workspace_view(exports.export_list), name="list")
    detail_path = path("<int:pk>/", workspace_view(exports.export_detail), name="detail")
    progress_path = path(
        "<int:pk>/progress/", workspace_view(exports.export_progress), name="progress"
    )
    download_path = path(
        "<int:pk>/download/", workspace_view(exports.export_download), name="download"
    )


class ExportsSite(Site):
    title = _("Redress")
    menu_template_name = None
    index_path = None

    exports_path = route("", Exports())


exports_site = ExportsSite()
