"""Lists page by key (``cases.keyset``): walking a list by its links shows every row once,
in order, while cases are filed between two pages; an edited cursor is a 400, not a 500.
"""

from __future__ import annotations

import datetime
import html
import itertools
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case
from tests.helpers import api_token

_serial = itertools.count(1)
PORTAL_LIST_QUERIES = 7  # on PostgreSQL: SQLite reads the list whole, in 6
NOW = timezone.now()


def cases(subject, agency, applicant, times: list[datetime.datetime]) -> list[Case]:
    """Cases filed at ``times`` (several at the same moment: ties are ordered by id)."""
    return Case.objects.bulk_create(
        Case(
            reference=f"RD-2026-{next(_serial):06d}",
            kind=Case.Kind.OBJECTION,
            subject=subject,
            agency=agency,
            grounds="The decision names the wrong branch.",
            applicant=applicant,
            filed_by=applicant,
            status=Case.Status.SUBMITTED,
            submitted_at=at,
        )
        for at in times
    )


def order_key(case: Case):
    return (case.submitted_at, case.pk)


def walk(client, address: str, *, between=None) -> tuple[list[int], list[str]]:
    """Follow "next" from the first page to the last; ``between(n)`` runs after page n."""
    seen, cursors = [], []
    response = client.get(address)
    page = 1
    while True:
        assert response.status_code == 200
        current = response.context["page"]
        assert current.number == page
        seen.extend(row.pk for row in current.rows)
        if between:
            between(page)
        if not current.next_cursor:
            return seen, cursors
        cursors.append(current.next_cursor)
        response = client.get(address, {"cursor": current.next_cursor})
        page += 1


@pytest.fixture
def sixty(company, agency, applicant):
    # Three cases at each moment: the page boundary falls inside ties.
    times = [NOW - datetime.timedelta(hours=n // 3) for n in range(60)]
    return cases(company, agency, applicant, times)


def test_the_case_list_by_its_links_shows_each_case_once_in_order_while_cases_are_filed(
    client, staff, company, agency, applicant, sixty
):
    client.force_login(staff["intake"])
    filed_later = []

    def file_between(page):
        if page == 1:
            # One case newer than every shown (goes before the position: not shown now),
            # and two among the cases still to come (shown in their places).
            filed_later.extend(
                cases(
                    company,
                    agency,
                    applicant,
                    [NOW + datetime.timedelta(hours=1), *[NOW - datetime.timedelta(hours=15)] * 2],
                )
            )

    seen, _ = walk(client, reverse("workspace:cases"), between=file_between)

    assert len(seen) == len(set(seen)) == 62
    expected = sorted([*sixty, *filed_later[1:]], key=order_key, reverse=True)
    assert seen == [case.pk for case in expected]
    assert filed_later[0].pk not in seen


def test_previous_walks_back_over_the_same_pages(client, staff, sixty):
    client.force_login(staff["intake"])
    address = reverse("workspace:cases")
    forward, _ = walk(client, address)
    response = client.get(address)
    while response.context["page"].next_cursor:
        response = client.get(address, {"cursor": response.context["page"].next_cursor})
    last = response.context["page"]
    assert last.number == 3 and last.previous_cursor
    backward = [row.pk for row in last.rows]
    page = last
    while page.previous_cursor:
        page = client.get(address, {"cursor": page.previous_cursor}).context["page"]
        backward = [row.pk for row in page.rows] + backward
    assert backward == forward
    assert page.number == 1 and not page.has_previous


def test_the_pager_links_carry_the_cursor_and_the_filter(client, staff, sixty):
    client.force_login(staff["intake"])
    response = client.get(reverse("workspace:cases"), {"status": "submitted"})
    page = response.context["page"]
    href = html.unescape(response.text.split('rel="next" href="')[1].split('"')[0])
    query = parse_qs(urlsplit(href).query)
    assert query == {"status": ["submitted"], "cursor": [page.next_cursor]}


def test_the_portal_case_list_pages_by_key_50_at_a_time(client, applicant, company, agency):
    many = cases(
        company, agency, applicant, [NOW - datetime.timedelta(minutes=n) for n in range(120)]
    )
    client.force_login(applicant)
    seen, cursors = walk(client, reverse("portal:cases"))
    assert seen == [case.pk for case in sorted(many, key=order_key, reverse=True)]
    assert len(cursors) == 2


@pytest.mark.parametrize(
    "address",
    ["workspace:cases", "workspace:queue", "workspace:inbox", "workspace:archive"],
)
def test_an_edited_or_foreign_cursor_is_a_clear_400_page(client, staff, sixty, address):
    client.force_login(staff["intake"])
    good = client.get(reverse("workspace:cases")).context["page"].next_cursor
    edited = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for cursor in (
        edited,
        "not-a-cursor",
        "x" * 5000,
        good if address != "workspace:cases" else edited,
    ):
        response = client.get(reverse(address), {"cursor": cursor})
        assert response.status_code == 400, (address, cursor)
        assert "This page link is not valid" in response.text
        assert reverse(address) in response.text  # a way back to the first page


def test_the_portal_answers_an_edited_cursor_with_400(client, applicant):
    client.force_login(applicant)
    response = client.get(reverse("portal:cases"), {"cursor": "eyJrIjpbXX0:abc:def"})
    assert response.status_code == 400
    assert "This page link is not valid" in response.text


def test_the_api_case_list_pages_by_signed_cursor_and_refuses_an_edited_one(
    staff, company, agency, applicant, sixty
):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(staff['intake'])}")
    seen, address, later = [], "/api/v1/cases/?page_size=25", []
    while address:
        body = api.get(address).json()
        seen.extend(item["id"] for item in body["results"])
        if address.endswith("page_size=25"):  # filed between pages 1 and 2: newest first,
            later.extend(cases(company, agency, applicant, [NOW]))  # so before the position
        address = body["next"]
    assert seen == sorted(case.pk for case in sixty)[::-1]
    assert later[0].pk not in seen

    first = api.get("/api/v1/cases/?page_size=25").json()["next"]
    cursor = first.split("cursor=")[1].split("&")[0]
    for bad in (cursor[:-2] + "zz", "cD0xMjM=", "%%%"):
        for listing in ("/api/v1/cases/", "/api/v1/tasks/"):
            response = api.get(listing, {"cursor": bad})
            assert response.status_code == 400, (listing, bad)
            assert response.json()["code"] == "invalid_input"
            assert "cursor" in str(response.json())


@pytest.mark.postgres
def test_the_portal_list_of_a_company_walks_each_branch_to_the_page_only(
    postgres_only, client, applicant, company, agency
):
    """A representative of two companies sees both companies' cases, filed by anyone, and
    the cases they filed themselves, in one list newest first, forwards and back. Each way
    of seeing a case is walked in the list's order and stopped at the page (``LIMIT 51``
    in every branch): a company's 1,000 cases were all fetched and sorted to show 50."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests import factories

    other_company = factories.SubjectFactory()
    factories.representative(other_company, "acme-too")
    applicant.representations.create(subject=other_company, confirmed_at=NOW)
    colleague = factories.representative(company, "colleague")
    stranger = factories.SubjectFactory()
    times = [NOW - datetime.timedelta(minutes=n) for n in range(130)]
    mine = (
        cases(company, agency, applicant, times[0::3])
        + cases(company, agency, colleague, times[1::3])
        + cases(other_company, agency, colleague, times[2::3])
    )
    cases(stranger, agency, colleague, times[:5])  # not the applicant's companies: not shown
    client.force_login(applicant)

    seen, cursors = walk(client, reverse("portal:cases"))
    assert seen == [case.pk for case in sorted(mine, key=order_key, reverse=True)]
    last = client.get(reverse("portal:cases"), {"cursor": cursors[-1]}).context["page"]
    back = client.get(reverse("portal:cases"), {"cursor": last.previous_cursor}).context["page"]
    assert [row.pk for row in back.rows] == seen[50:100]

    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("portal:cases"), {"cursor": cursors[0]})
    [listing] = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "cases_case"')
    ]
    # Four branches (own applications, grants, each company) and the page itself.
    assert listing.count("LIMIT 51") == 5, listing
    # Seven queries (six before, and the subjects acted for, read once to make the branches);
    # as many for 130 cases as for 1,000 (bench/pages.py).
    assert len(captured) == PORTAL_LIST_QUERIES, [q["sql"][:80] for q in captured.captured_queries]
