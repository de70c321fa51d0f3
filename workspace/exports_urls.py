"""The auditor's exports, mounted at ``/exports/`` in the ``exports`` namespace (the
``Exports`` application of ``workspace.viewsets``)."""

from django.urls import path

from workspace.viewsets import exports_site

urlpatterns = [path("", exports_site.urls)]
