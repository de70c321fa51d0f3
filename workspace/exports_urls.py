"""The auditor's exports, mounted at ``/exports/`` in the ``exports`` namespace."""

from django.urls import path

from workspace import exports

app_name = "exports"

urlpatterns = [
    path("", exports.export_list, name="list"),
    path("<int:pk>/", exports.export_detail, name="detail"),
    path("<int:pk>/progress/", exports.export_progress, name="progress"),
    path("<int:pk>/download/", exports.export_download, name="download"),
]
