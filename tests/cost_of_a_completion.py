"""What one officer's claim-and-complete costs in-process (not a test: it measures).

    .venv/bin/pytest -n 0 tests/cost_of_a_completion.py -s   # COST_TOP=70 COST_VERBOSE=1

The three requests ``bench/throughput.py`` makes per completion, through Django's test
client and the REST API on the test database (SQLite unless ``DATABASE_URL`` says
otherwise): the queue lookup (``GET tasks/?box=queue&case=…``), the claim and the
acceptance of an objection, as the throughput bench files them. Two cases are worked
first so that templates, translations and caches are warm; the third is measured: the
queries of each request (grouped by statement and table), then the same three requests
for a fourth case under cProfile (function calls and the top functions by cumulative
time). Query counts and function calls do not depend on the machine's load; wall times do.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cases.models import Material
from tests import factories
from tests.flow_helpers import add_evidence, file_objection
from tests.helpers import api_token

SQL = bool(os.environ.get("COST_SQL"))
_PROJECT = ("/cases/", "/workflows/", "/documents/", "/notifications/", "/api/", "/config/")


def _where(execute, sql, params, many, context):
    """Print each statement with the project's frames that led to it (``COST_SQL=1``)."""
    import traceback

    frames = [
        f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
        for f in traceback.extract_stack()[:-1]
        if (any(p in f.filename for p in _PROJECT) and "site-packages" not in f.filename)
        or "viewflow" in f.filename
    ]
    print(f"-- {_kind(sql)}  {sql[:160]}")
    print("     " + " < ".join(reversed(frames[-6:])))
    return execute(sql, params, many, context)


FOCUS = os.environ.get("COST_FOCUS", "")
VERBOSE = bool(os.environ.get("COST_VERBOSE"))
TOP = int(os.environ.get("COST_TOP", "70"))


def _kind(sql: str) -> str:
    head = sql.split(None, 1)[0].upper()
    if head == "SELECT":
        m = re.search(r'\bFROM\s+"?(\w+)"?', sql)
        return f"SELECT {m.group(1) if m else '?'}"
    if head == "INSERT":
        m = re.search(r'INTO\s+"?(\w+)"?', sql)
        return f"INSERT {m.group(1) if m else '?'}"
    if head == "UPDATE":
        m = re.search(r'UPDATE\s+"?(\w+)"?', sql)
        return f"UPDATE {m.group(1) if m else '?'}"
    if head == "DELETE":
        m = re.search(r'FROM\s+"?(\w+)"?', sql)
        return f"DELETE {m.group(1) if m else '?'}"
    return head


@pytest.fixture
def officer_client(staff):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(staff['intake'])}")
    return client


def _filed(company, agency, applicant):
    record = factories.RecordFactory(subject=company, agency=agency)
    case = file_objection(company, [record], applicant)
    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE, record=record)
    return case


class _Step:
    """The queries of one request, and its profile when ``profiles`` is given."""

    def __init__(self, name, profiles):
        self.name, self.profiles = name, profiles

    def __enter__(self):
        self.captured = CaptureQueriesContext(connection).__enter__()
        if SQL and self.name == "complete":
            self.wrapper = connection.execute_wrapper(_where)
            self.wrapper.__enter__()
        if self.profiles is not None:
            self.profile = cProfile.Profile()
            self.profile.enable()
        return self.captured

    def __exit__(self, *exc):
        if SQL and self.name == "complete":
            self.wrapper.__exit__(*exc)
        if self.profiles is not None:
            self.profile.disable()
            self.profiles[self.name] = self.profile
        self.captured.__exit__(*exc)


def _cycle(client, case, profiles=None) -> dict[str, list[str]]:
    """The three requests for ``case``; the SQL of each."""
    out = {}
    with _Step("queue", profiles) as q:
        r = client.get("/api/v1/tasks/", {"box": "queue", "case": case.pk})
    assert r.status_code == 200, r.content
    [task] = [t for t in r.json()["results"] if t["step"] == "acceptance_check"]
    out["queue"] = [x["sql"] for x in q.captured_queries]
    with _Step("claim", profiles) as q:
        r = client.post(f"/api/v1/tasks/{task['id']}/claim/")
    assert r.status_code == 200, r.content
    out["claim"] = [x["sql"] for x in q.captured_queries]
    with _Step("complete", profiles) as q:
        r = client.post(
            f"/api/v1/tasks/{task['id']}/complete/",
            {"decision": "accept", "note": "OK."},
            format="json",
        )
    assert r.status_code == 200, r.content
    out["complete"] = [x["sql"] for x in q.captured_queries]
    return out


def test_cost_of_one_completion(
    company, agency, platforms, applicant, staff, private_files, officer_client
):
    cases = [_filed(company, agency, applicant) for _ in range(4)]
    _cycle(officer_client, cases[0])
    _cycle(officer_client, cases[1])
    measured = _cycle(officer_client, cases[2])
    for name, sql in measured.items():
        print(f"\n== {name}: {len(sql)} queries")
        for kind, n in Counter(_kind(s) for s in sql).most_common():
            print(f"  {n:3d}  {kind}")
    profiles = {}
    _cycle(officer_client, cases[3], profiles)
    for name, profile in profiles.items():
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(
            f"\n== cProfile of {name}: {stats.total_calls} function calls, "
            f"{stats.total_tt * 1000:.0f} ms"
        )
        if name == "complete" or VERBOSE:
            stats.sort_stats(os.environ.get("COST_SORT", "cumulative"))
            if FOCUS:
                stats.print_stats(FOCUS)
            else:
                stats.print_stats(TOP)
            print(out.getvalue())


def test_what_the_letter_and_the_message_cost_in_the_request(
    company, agency, platforms, applicant, staff, private_files, officer_client
):
    """The acceptance letter's facts (reads) against its HTML (the template), and the
    notification's text, each timed alone on a case just accepted (``COST_PARTS=1``)."""
    import time

    from django.template.loader import render_to_string
    from django.utils import timezone, translation

    from documents.content import letter_facts, template_identity
    from documents.models import Letter
    from notifications import texts
    from notifications.services import _context

    cases = [_filed(company, agency, applicant) for _ in range(2)]
    _cycle(officer_client, cases[0])
    _cycle(officer_client, cases[1])
    case = cases[1]
    case.refresh_from_db()
    now = timezone.now()
    kind, language = Letter.Kind.ACCEPTANCE, case.language

    def timed(label, fn, n=50):
        fn()
        began = time.process_time()
        with CaptureQueriesContext(connection) as q:
            for _ in range(n):
                fn()
        print(
            f"{label}: {(time.process_time() - began) / n * 1000:.2f} ms CPU, "
            f"{len(q) / n:.0f} queries"
        )

    facts = letter_facts(case, kind, language, code="ABCDEFGHIJ", issued_at=now)
    identity = template_identity(kind, language)

    def html():
        with translation.override(language):
            render_to_string(identity.name, facts)

    timed(
        "letter facts", lambda: letter_facts(case, kind, language, code="ABCDEFGHIJ", issued_at=now)
    )
    timed("letter HTML from the facts", html)
    context = _context(case)
    timed("message context", lambda: _context(case))
    timed("message text", lambda: texts.render("accepted", language, **context))


def test_profile_letter_facts(
    company, agency, platforms, applicant, staff, private_files, officer_client
):
    from django.utils import timezone

    from documents.content import letter_facts
    from documents.models import Letter

    cases = [_filed(company, agency, applicant) for _ in range(2)]
    _cycle(officer_client, cases[0])
    _cycle(officer_client, cases[1])
    case = cases[1]
    case.refresh_from_db()
    now = timezone.now()
    letter_facts(case, Letter.Kind.ACCEPTANCE, case.language, code="ABCDEFGHIJ", issued_at=now)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(20):
        letter_facts(case, Letter.Kind.ACCEPTANCE, case.language, code="ABCDEFGHIJ", issued_at=now)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
    print(out.getvalue())


def test_profile_the_acceptance_letter_render(
    company, agency, platforms, applicant, staff, private_files, officer_client
):
    """The worker's share: the acceptance letter's PDF, rendered ``COST_RENDERS`` times."""
    import time

    from documents.models import Letter
    from documents.services import letter_pdf

    case = _filed(company, agency, applicant)
    _cycle(officer_client, case)
    letter = Letter.objects.get(case=case, kind=Letter.Kind.ACCEPTANCE)
    letter_pdf(letter)
    n = int(os.environ.get("COST_RENDERS", "10"))
    began = time.process_time()
    for _ in range(n):
        letter_pdf(letter)
    print(f"\nacceptance letter PDF: {(time.process_time() - began) / n * 1000:.1f} ms CPU")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        letter_pdf(letter)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(os.environ.get("COST_SORT", "cumulative")).print_stats(TOP)
    print(out.getvalue())


def test_cpu_of_officer_cycles(
    company, agency, platforms, applicant, staff, private_files, officer_client
):
    """This process's CPU for ``COST_CYCLES`` officer cycles (queue, claim, accept), after two
    warm-up cycles: Django, the ORM and the database driver, without the HTTP server. On a
    loaded machine compare runs interleaved with the code compared against."""
    global _Step
    import time

    n = int(os.environ.get("COST_CYCLES", "30"))
    cases = [_filed(company, agency, applicant) for _ in range(n + 2)]
    _cycle(officer_client, cases[0])
    _cycle(officer_client, cases[1])
    spent = {"queue": 0.0, "claim": 0.0, "complete": 0.0}

    class _Timed(_Step):
        def __enter__(self):
            self.began = time.process_time()
            return super().__enter__()

        def __exit__(self, *exc):
            super().__exit__(*exc)
            spent[self.name] += time.process_time() - self.began

    original, _Step = _Step, _Timed
    try:
        for case in cases[2:]:
            _cycle(officer_client, case)
    finally:
        _Step = original
    total = sum(spent.values())
    print(
        f"\nCPU per cycle over {n} cycles ({connection.vendor}): "
        + ", ".join(f"{k} {v / n * 1000:.1f} ms" for k, v in spent.items())
        + f"; total {total / n * 1000:.1f} ms"
    )


def test_cost_of_the_cheapest_requests(staff, officer_client):
    """The floor under every API request, in-process: ``GET /api/v1/`` without a token
    (401), with one (authentication and the API root only), and one row read (the caller's
    own token, ``auth/tokens/<id>/``); queries and function calls of each, the profile of
    the one-row read (``COST_VERBOSE=1``: of each)."""
    from cases.models import ApiToken

    token = ApiToken.objects.filter(user=staff["intake"]).latest("pk")
    anonymous = APIClient()
    requests = {
        "no token (401)": (anonymous, "/api/v1/", 401),
        "API root (auth only)": (officer_client, "/api/v1/", 200),
        "one row (own token)": (officer_client, f"/api/v1/auth/tokens/{token.pk}/", 200),
    }
    for client, path, expect in requests.values():
        for _ in range(3):
            assert client.get(path).status_code == expect
    for name, (client, path, expect) in requests.items():
        statements = []

        def counted(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            assert client.get(path).status_code == expect
        profile = cProfile.Profile()
        profile.enable()
        assert client.get(path).status_code == expect
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"\n== {name}: {len(statements)} queries, {stats.total_calls} function calls")
        if VERBOSE or name.startswith("one row"):
            stats.sort_stats(os.environ.get("COST_SORT", "cumulative")).print_stats(TOP)
            print(out.getvalue())
