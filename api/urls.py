"""URLs of the REST API: /api/v1/, the OpenAPI schema and its interactive docs."""

from django.urls import include, path, re_path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import cases as case_apis
from api import task_endpoints as workflow_apis
from api.conventions import (
    ErrorSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    TokenView,
    api_not_found,
)
from api.metrics import MetricsView
from api.notifications import NotificationsView
from api.platforms import AcknowledgementView
from api.reconciliation import (
    AcknowledgementTimesView,
    HoldingsView,
    MismatchActionView,
    MismatchListView,
)
from api.tokens import ApiTokenViewSet, LogoutAllView, LogoutView


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name for ``Authorization: Token <token>``: ``tokenAuth``, as before
    the tokens became knox's, so that generated clients keep working."""

    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Token",  # noqa: S106 - the header's keyword, not a secret
        )


token_view = extend_schema_view(
    post=extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 429: ErrorSerializer},
        auth=[],
        summary="Exchange a username and password for a new API token",
        description="Every login gets a token of its own, which expires "
        "(REDRESS_API_TOKEN_HOURS, 10 hours by default). Too many failed logins for "
        "one username, or from one address, answer 429.",
    )
)(TokenView).as_view()
logout_view = extend_schema_view(
    post=extend_schema(
        request=None,
        responses={204: None},
        summary="Revoke the API token this request is made with",
    )
)(LogoutView).as_view()
logout_all_view = extend_schema_view(
    post=extend_schema(
        request=None,
        responses={204: None},
        summary="Revoke every API token of the caller, this one included",
    )
)(LogoutAllView).as_view()
api_tokens = extend_schema_view(
    list=extend_schema(summary="The caller's API tokens that still work"),
    retrieve=extend_schema(summary="One of the caller's API tokens"),
    destroy=extend_schema(summary="Revoke one of the caller's API tokens"),
)(ApiTokenViewSet)

router = DefaultRouter()
router.register("auth/tokens", api_tokens, basename="api-token")
router.register("records", case_apis.RecordViewSet, basename="record")
router.register("cases", case_apis.CaseViewSet, basename="case")
router.register(r"cases/(?P<case_pk>[^/.]+)/letters", case_apis.LetterViewSet, basename="letter")
router.register("tasks", workflow_apis.TaskViewSet, basename="task")

api_v1 = [
    path("auth/token/", token_view, name="token"),
    path("auth/logout/", logout_view, name="logout"),
    path("auth/logout-all/", logout_all_view, name="logout-all"),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("reconciliation/mismatches/", MismatchListView.as_view(), name="mismatches"),
    path(
        "reconciliation/acknowledgement-times/",
        AcknowledgementTimesView.as_view(),
        name="acknowledgement_times",
    ),
    path(
        "reconciliation/mismatches/<str:pk>/resend/",
        MismatchActionView.as_view(action="resend"),
        name="mismatch-resend",
    ),
    path(
        "reconciliation/mismatches/<str:pk>/resolve/",
        MismatchActionView.as_view(action="resolve"),
        name="mismatch-resolve",
    ),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # What platforms call back, signed with their secret (not a token).
    path(
        "api/v1/platforms/<slug:code>/acknowledgements/",
        AcknowledgementView.as_view(),
        name="platform_acknowledge",
    ),
    path(
        "api/v1/platforms/<slug:code>/holdings/", HoldingsView.as_view(), name="platform_holdings"
    ),
    # The signed-in person's in-app notifications as JSON (session).
    path("notifications/", NotificationsView.as_view(), name="notifications"),
    # Anything else under /api/ answers 404 in the API's error shape.
    re_path(r"^api/", api_not_found),
]
