"""URLs of the officers' workspace (viewflow's frontend), mounted at ``/workflow/``.

Names live in the ``workspace`` namespace: ``workspace:inbox``, ``workspace:case``, ...
"""

from django.urls import path

from workspace.viewsets import site

urlpatterns = [path("", site.urls)]
