"""A bounded mixed load on the REST API (Locust; `pip install -e '.[bench]'`).

    REDRESS_LOCUST_ACCOUNTS=accounts.json REDRESS_LOCUST_SECONDS=120 \\
        .venv/bin/locust -f bench/locustfile.py --headless -u 30 -r 5 --host http://127.0.0.1:8000

Three kinds of user, weighted as a province's traffic is: entities (filing an objection
with one evidence upload, reading their case list and a case), officers (taking an
acceptance check from the queue, claiming it and accepting it; reading the inbox) and
auditors (paging through the agency's cases, records and tasks: the API's read side;
the export ZIP itself is made by the worker from the officers' pages, not the API). The
run stops by itself after ``REDRESS_LOCUST_SECONDS`` (default 120) whatever the command
line says, so a forgotten ``--run-time`` cannot leave load running.

``accounts.json`` holds API tokens (``manage.py shell``: ``api_token_create``) of people
at one agency: ``{"entities": [{"token": ..., "subject_code": ..., "record_ids": [...]}],
"officers": [token, ...], "auditors": [token, ...]}``; each entity's records are filed
against once, in order (an objection per record).

Locust rather than our own driver: it paces users, reports percentiles per endpoint and
runs distributed over several machines when one load generator is not enough.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

ACCOUNTS = json.loads(Path(os.environ.get("REDRESS_LOCUST_ACCOUNTS", "accounts.json")).read_text())
SECONDS = int(os.environ.get("REDRESS_LOCUST_SECONDS", "120"))
_entities = itertools.cycle(ACCOUNTS["entities"])
_officers = itertools.cycle(ACCOUNTS["officers"])
_auditors = itertools.cycle(ACCOUNTS["auditors"])
_serial = itertools.count(1)


def pdf() -> bytes:
    """A valid one-page PDF, different each call (evidence must be a readable PDF: the
    content is checked, and a cross-reference table with the right offsets is part of
    that; identical files would de-duplicate)."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
        b"<</Title(locust evidence %d)>>" % next(_serial),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R/Info 4 0 R>>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@events.test_start.add_listener
def _stop_by_itself(environment, **_kwargs):
    """The run ends after SECONDS, however it was started."""
    if environment.runner is not None:
        gevent.spawn_later(SECONDS, environment.runner.quit)


class ApiUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 2)
    token = ""

    def api(self, method: str, path: str, name: str | None = None, **kwargs):
        headers = {"Authorization": f"Token {self.token}"}
        return self.client.request(method, f"/api/v1/{path}", headers=headers, name=name, **kwargs)


class Entity(ApiUser):
    weight = 5

    def on_start(self):
        account = next(_entities)
        self.token = account["token"]
        self.subject_code = account["subject_code"]
        self.records = list(account["record_ids"])

    @task(1)
    def file_an_objection(self):
        if not self.records:
            return
        record = self.records.pop(0)
        response = self.api(
            "POST",
            "cases/",
            json={
                "kind": "objection",
                "subject_code": self.subject_code,
                "record_ids": [record],
                "grounds": "The decision names the wrong branch.",
            },
        )
        if response.status_code == 201:
            self.api(
                "POST",
                f"cases/{response.json()['id']}/evidence/",
                name="cases/[id]/evidence/",
                data={"material": "correction_evidence", "record": record},
                files={"file": ("evidence.pdf", pdf(), "application/pdf")},
            )

    @task(4)
    def read_my_cases(self):
        response = self.api("GET", "cases/")
        results = response.json().get("results", []) if response.ok else []
        if results:
            self.api("GET", f"cases/{results[0]['id']}/", name="cases/[id]/")


class Officer(ApiUser):
    weight = 4

    def on_start(self):
        self.token = next(_officers)

    @task(3)
    def accept_from_the_queue(self):
        response = self.api("GET", "tasks/", params={"box": "queue"}, name="tasks/?box=queue")
        tasks = [
            t
            for t in (response.json().get("results", []) if response.ok else [])
            if t["step"] == "acceptance_check"
        ]
        if not tasks:
            return
        task_id = tasks[0]["id"]
        with self.api(
            "POST", f"tasks/{task_id}/claim/", name="tasks/[id]/claim/", catch_response=True
        ) as claim:
            if claim.status_code == 409:  # another officer took it first: not an error
                claim.success()
                return
        self.api(
            "POST",
            f"tasks/{task_id}/complete/",
            name="tasks/[id]/complete/",
            json={"decision": "accept", "note": "Materials complete."},
        )

    @task(1)
    def read_the_inbox(self):
        self.api("GET", "tasks/", params={"box": "inbox"}, name="tasks/?box=inbox")


class Auditor(ApiUser):
    weight = 1

    def on_start(self):
        self.token = next(_auditors)

    @task
    def page_through(self):
        for path in ("cases/", "records/", "tasks/"):
            self.api("GET", path)
