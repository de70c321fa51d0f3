"""URLs of the officers' workspace (viewflow's frontend), mounted at ``/workflow/``.

Names live in the ``workflows`` namespace: ``workflows:inbox``, ``workflows:case``, ...
"""

from django.urls import path

from workflows.viewsets import site

urlpatterns = [path("", site.urls)]
