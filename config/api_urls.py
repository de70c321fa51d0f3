"""URLs of the REST API: /api/v1/, the OpenAPI schema and its interactive docs."""

from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from cases import apis as case_apis
from config.api import (
    ErrorSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    TokenView,
    api_not_found,
)
from workflows import apis as workflow_apis

token_view = extend_schema_view(
    post=extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 429: ErrorSerializer},
        auth=[],
        summary="Exchange a username and password for an API token",
    )
)(TokenView).as_view()

router = DefaultRouter()
router.register("records", case_apis.RecordViewSet, basename="record")
router.register("cases", case_apis.CaseViewSet, basename="case")
router.register(r"cases/(?P<case_pk>[^/.]+)/letters", case_apis.LetterViewSet, basename="letter")
router.register("tasks", workflow_apis.TaskViewSet, basename="task")

api_v1 = [
    path("auth/token/", token_view, name="token"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Anything else under /api/ answers 404 in the API's error shape (the platforms'
    # acknowledgement endpoint, mounted by notifications.urls, is left to it).
    re_path(r"^api/(?!v1/platforms/)", api_not_found),
]
