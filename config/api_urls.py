"""URLs of the REST API: /api/v1/, the OpenAPI schema and its interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from cases import apis as case_apis
from workflows import apis as workflow_apis

router = DefaultRouter()
router.register("records", case_apis.RecordViewSet, basename="record")
router.register("cases", case_apis.CaseViewSet, basename="case")
router.register("tasks", workflow_apis.TaskViewSet, basename="task")

api_v1 = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
