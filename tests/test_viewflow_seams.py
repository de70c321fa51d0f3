"""Where the route meets viewflow, and the checks that fail if viewflow moves under it.

The legal clock's timers are our own nodes (``workflows.nodes.DeadlineTimer``), declared
beside the step they watch: the route reads each one's moment and arms it again through
viewflow's public API. One use of viewflow's private state is left, and alone:
``workflows.nodes.route_node_copy`` gives each flow built from the shared route its own
list of a step's timers.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from viewflow.workflow import flow
from viewflow.workflow.flow.nodes import TimerBoundary
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases.models import Case
from tests.flow_helpers import file_objection, file_restoration, open_task, submit
from tests.helpers import agency_rules, restorable_record
from workflows.flows import FLOWS
from workflows.nodes import DeadlineTimer, deadline_timers, route_node_copy


@pytest.mark.parametrize("kind", Case.Kind.values)
def test_every_timer_of_the_route_is_a_deadline_timer_on_a_step_of_its_own_flow(kind):
    flow_class = FLOWS[kind]
    timers = [n for n in flow_class.instance.nodes() if isinstance(n, TimerBoundary)]

    # A timer chained with viewflow's .OnTimeout would keep its moment where the route
    # cannot read it: an extension would not move it.
    assert timers and all(isinstance(timer, DeadlineTimer) for timer in timers), timers
    for timer in timers:
        step = flow_class.instance.node(timer.host_name, no_obsolete=True)
        assert step is not None and step.flow_class is flow_class, timer.name
        assert timer in deadline_timers(step)


@pytest.mark.parametrize("kind", Case.Kind.values)
def test_a_steps_task_arms_the_timers_of_its_own_flow_once(
    kind, company, agency, platforms, applicant
):
    record = restorable_record(company, agency, platforms)
    if kind == Case.Kind.REORGANISATION:
        agency_rules(agency, temporary_restoration_days=10)
        case = submit(kind, company, [record], applicant)
    else:
        filed = file_objection if kind == Case.Kind.OBJECTION else file_restoration
        case = filed(company, [record], applicant)

    step = open_task(case, "acceptance_check")
    armed = Task.objects.filter(previous=step, status=STATUS.SCHEDULED).order_by("id")

    assert [t.flow_task.name for t in armed] == [
        "acceptance_check__timeout",
        "acceptance_check__timeout_2",
    ]
    assert {t.flow_task.flow_class for t in armed} == {FLOWS[kind]}
    assert [t.flow_task for t in armed] == deadline_timers(step.flow_task)


def test_a_step_copied_for_a_flow_fails_loudly_if_viewflow_keeps_its_timers_elsewhere():
    step = flow.Handle(lambda activation: None)
    assert route_node_copy(step) is not step

    del step._boundary_events  # as if viewflow had renamed it

    with pytest.raises(ImproperlyConfigured, match="route_node_copy"):
        route_node_copy(step)
