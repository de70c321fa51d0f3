"""The API's task list on PostgreSQL, where each branch of the inbox/queue union is cut to
its page inside the database (SQLite keeps the whole union).

In a module of its own: the test commits and so flushes the database, and the reference
data comes back after the module (tests/conftest.py), not after each test.
"""

import pytest

from tests.test_api import _tasks_by_page_in_both_boxes


@pytest.mark.postgres
def test_the_task_list_of_both_boxes_pages_alike_on_postgresql(
    postgres_only, company, agency, applicant, staff, platforms
):
    _tasks_by_page_in_both_boxes(company, agency, applicant, staff, platforms)
