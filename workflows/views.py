"""Officers' pages: queues, the case page, and doing a task."""

from django.shortcuts import redirect


def task_execute(request, process_pk: int, task_pk: int, **kwargs):
    """viewflow's execute URL for a task: the work is done on the case page."""
    from cases.models import Case

    case = Case.objects.filter(process_id=process_pk).only("pk").first()
    if case is None:
        return redirect("/")
    return redirect("workflows:case", pk=case.pk)
