"""The supervisors' dashboard in a real browser: axe-core finds no serious or critical
violation (WCAG 2.2 AA), in Chinese and in English, at a desktop and a phone width; the
charts are drawn and each has its table beside it; the filters narrow the figures.

The pattern and the helpers are ``test_browser_accessibility.py``'s (one chromium for the
module, a context per person and language).
"""

from __future__ import annotations

import pytest

from cases.models import Role
from tests import factories
from tests import test_browser_accessibility as a11y
from tests.test_browser_accessibility import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    Browser,
    person,
    screenshot,
)
from tests.test_metrics import build_history

# The accessibility module's fixtures: one chromium for the module, connections closed.
browser = a11y.browser
close_connections = a11y.close_connections


@pytest.mark.parametrize(
    "language,viewport", [("zh-hans", DESKTOP), ("en", DESKTOP), ("zh-hans", PHONE)]
)
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_has_no_serious_accessibility_violation(
    live_server, browser, close_connections, language, viewport
):
    first, second = build_history("SZAMR"), build_history("GZAMR")
    supervisor = person(factories.officer(Role.SUPERVISOR, first, "sue"))
    factories.officer(Role.SUPERVISOR, second, "sue")
    auditor = person(factories.officer(Role.AUDITOR, first, "audrey"))
    tool = Browser(browser, live_server.url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for who, user in (("supervisor", supervisor), ("auditor", auditor)):
        context = tool.context(user, language, viewport)
        page = context.new_page()
        try:
            page.goto("/workflow/agency/metrics/?start=2025-02-24&end=2025-03-14")
            assert page.locator("svg.rd-chart").count() == 3
            assert page.locator("table[data-table]").count() == 11
            screenshot(page, ARTIFACTS / f"metrics-{who}-{language}-{viewport['width']}.png")
            if problems := tool.violations(page):
                found[who] = problems
        finally:
            context.close()
    assert not found, found


@pytest.mark.django_db(transaction=True)
def test_a_supervisor_narrows_the_figures_to_one_officer(live_server, browser, close_connections):
    agency = build_history("SZAMR")
    supervisor = person(factories.officer(Role.SUPERVISOR, agency, "sue"))
    tool = Browser(browser, live_server.url)
    context = tool.context(supervisor, "en", axe=False)
    page = context.new_page()
    try:
        page.goto("/workflow/agency/metrics/?start=2025-02-24&end=2025-03-14")
        load = page.locator("table[data-table=officer_load] tbody tr")
        assert load.count() == 2
        page.get_by_label("Officer", exact=True).select_option(label="Olga")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**officer=*")
        assert page.locator("table[data-table=officer_load] tbody tr").count() == 1
        assert "Olga" in page.locator("table[data-table=officer_load]").inner_text()
    finally:
        context.close()
