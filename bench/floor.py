"""The floor under an officer's completion on this machine (not a test: it measures).

    .venv/bin/python bench/floor.py [--levels 1,4,8] [--requests 400] [--per-level 60]
        [--web-workers 2] [--database redress_bench_floor] [--redis-db 4]

Starts the stack ``bench/throughput.py`` starts (gunicorn with deploy/gunicorn.conf.py and
the production settings, one Celery worker ``-c 1``, a fresh PostgreSQL database, Redis),
plus a second gunicorn with the same configuration serving a WSGI application that only
answers "ok" (``floor:hello``, no Django): the HTTP server's own floor. Then, at each
concurrency of ``--levels`` (one thread a simulated client, each signed in as an officer of
its own with an API token, as the throughput bench does), it measures requests per second,
p50/p95 and the CPU each part of the stack spent per request (from /proc: gunicorn's
processes, PostgreSQL's backends of this database, the Celery worker, this driver):

1. the floors: ``hello`` (gunicorn alone), ``GET /api/v1/`` with a token (the API root:
   authentication and nothing else), ``GET /api/v1/auth/tokens/<id>/`` (authentication
   and one row read), ``--requests`` each;
2. an officer's cycle one request at a time: ``--per-level`` objections filed through the
   API first, then the queue lookups of all of them (``GET tasks/?box=queue&case=…``),
   then the claims, then the acceptances; the worker is stopped (SIGSTOP) while the
   acceptances run, so that the requests' CPU is theirs alone;
3. the worker's share: resumed, it renders the acceptance letters and delivers the notices
   queued by the acceptances; its CPU until it is idle again, per acceptance.

The driver uses ``http.client`` (one connection a request: gunicorn's sync workers close
each), cheaper than ``requests``; its CPU is shown, because it shares the two cores. Prints
the tables that bench/RESULTS.md "The floor under a completion" holds; writes nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stack import ROOT, celery_worker, free_port, gunicorn, percentile, production_env


def hello(environ, start_response):
    """The least a WSGI application can answer: gunicorn's own cost per request."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--levels", default="1,4,8")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--per-level", type=int, default=60)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--database", default="redress_bench_floor")
    parser.add_argument("--redis-db", type=int, default=4)
    return parser.parse_args()


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main() -> None:
    args = parse()
    levels = [int(n) for n in args.levels.split(",")]
    var = Path(tempfile.mkdtemp(prefix="redress-floor-"))
    env = production_env("floor", args.database, args.redis_db, var)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')

    import django

    django.setup()

    import redis
    import requests
    from django.core.management import call_command

    from cases.signing import key_generate

    key_generate(Path(env["REDRESS_AUDIT_KEY_FILE"]))
    call_command("migrate", verbosity=0)
    broker = redis.Redis(db=args.redis_db)
    broker.flushdb()

    from cases.models import ApiToken, Role
    from tests import factories
    from tests.helpers import api_token, pdf_bytes

    tick = os.sysconf("SC_CLK_TCK")

    # CPU per process, sampled every quarter second and kept after the process ends: a
    # gunicorn worker is replaced after ``max_requests`` (2,000 ± 200), a Celery pool
    # process and PostgreSQL's backends may end, and a process that ended takes its CPU
    # with it from /proc. At most the last quarter second of an ended process is lost.
    kinds: dict[int, str | None] = {}
    seen: dict[int, float] = {}
    seen_lock = threading.Lock()

    def kind_of(cmdline: str) -> str | None:
        if "gunicorn" in cmdline and "config.wsgi" in cmdline:
            return "gunicorn (Redress)"
        if "gunicorn" in cmdline and "floor:hello" in cmdline:
            return "gunicorn (hello)"
        if "celery" in cmdline and " worker " in cmdline:
            return "celery worker"
        if cmdline.startswith("postgres:") and f" {args.database} " in cmdline:
            return "PostgreSQL"
        return None

    def sample() -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                if pid not in kinds:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    # A backend names its database once it has authenticated: ask again.
                    kind = kind_of(cmdline.replace(b"\0", b" ").decode())
                    if kind is None and cmdline.startswith(b"postgres: postgres "):
                        continue
                    kinds[pid] = kind
                if kinds[pid] is None:
                    continue
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            with seen_lock:
                seen[pid] = (int(fields[11]) + int(fields[12])) / tick

    def sampler() -> None:
        while True:
            sample()
            time.sleep(0.25)

    threading.Thread(target=sampler, daemon=True).start()

    def cpu_seconds() -> dict[str, float]:
        sample()
        parts = dict.fromkeys(
            ("gunicorn (Redress)", "gunicorn (hello)", "PostgreSQL", "celery worker"), 0.0
        )
        with seen_lock:
            for pid, used in seen.items():
                parts[kinds[pid]] += used
        times = os.times()
        parts["driver"] = times.user + times.system
        return parts

    def worker_pids() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if "celery" in cmdline and " worker " in cmdline and "config" in cmdline:
                    pids.append(int(entry.name))
        return pids

    # --- the installation ------------------------------------------------------------------
    port, hello_port = free_port(), free_port()
    logs = {name: (var / f"{name}.log").open("ab") for name in ("web", "hello", "worker")}
    processes = [
        gunicorn(port, args.web_workers, var, "config.wsgi:application", logs["web"]),
        gunicorn(
            hello_port,
            args.web_workers,
            var,
            "floor:hello",
            logs["hello"],
            "--pythonpath",
            str(ROOT / "bench"),
        ),
        celery_worker(logs["worker"]),
    ]

    def stop() -> None:
        for pid in worker_pids():
            os.kill(pid, signal.SIGCONT)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    url = f"http://127.0.0.1:{port}"
    for bind_port in (port, hello_port):
        for _ in range(120):
            try:
                requests.get(f"http://127.0.0.1:{bind_port}/api/v1/", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            stop()
            sys.exit(f"gunicorn on {bind_port} did not answer; see {var}")

    # --- people and records ----------------------------------------------------------------
    warm = 2 * args.web_workers
    needed = args.per_level * len(levels) + warm
    agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
    companies = []
    for number in range(8):
        company = factories.SubjectFactory(name=f"深圳市示例{number}科技有限公司")
        rep = factories.representative(company, f"rep-{number}")
        companies.append((company, api_token(rep)))
    records = [
        (companies[i % 8], factories.RecordFactory(subject=companies[i % 8][0], agency=agency))
        for i in range(needed)
    ]
    officers = []
    for n in range(max(levels)):
        user = factories.officer(Role.INTAKE, agency, f"intake-{n}")
        text = api_token(user)
        officers.append((text, ApiToken.objects.get(user=user).pk))

    def call(
        bind_port: int, method: str, path: str, token: str | None, body: dict | None = None
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", bind_port, timeout=60)
        headers = {}
        data = None
        if token:
            headers["Authorization"] = f"Token {token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    rows: list[dict] = []

    def run(
        label: str, level: int, jobs: list[list], expect: int, quiet_worker=False, record=True
    ) -> dict:
        """Each thread does its own list of jobs (``(port, method, path, token, body)``)."""
        latencies: list[float] = []
        answers: list[list[bytes]] = [[] for _ in jobs]
        errors = [0]
        lock = threading.Lock()

        def work(n: int) -> None:
            for bind_port, method, path, token, body in jobs[n]:
                began = time.perf_counter()
                status, payload = call(bind_port, method, path, token, body)
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    if status != expect:
                        errors[0] += 1
                answers[n].append(payload)

        if quiet_worker:
            for pid in worker_pids():
                os.kill(pid, signal.SIGSTOP)
        threads = [threading.Thread(target=work, args=(n,)) for n in range(len(jobs))]
        load_before = loadavg()
        before = cpu_seconds()
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        after = cpu_seconds()
        if quiet_worker:
            for pid in worker_pids():
                os.kill(pid, signal.SIGCONT)
        done = len(latencies)
        row = {
            "label": label,
            "level": level,
            "n": done,
            "errors": errors[0],
            "rps": done / wall,
            "p50": percentile(latencies, 50) * 1000,
            "p95": percentile(latencies, 95) * 1000,
            "cpu": {part: (after[part] - before[part]) / done * 1000 for part in before},
            "load": (load_before, loadavg()),
            "answers": answers,
        }
        if not record:
            return row
        rows.append(row)
        cpu = row["cpu"]
        web = cpu["gunicorn (Redress)"] + cpu["gunicorn (hello)"]
        print(
            f"{label:28s} c={level}: {row['rps']:7.1f}/s p50 {row['p50']:6.1f} ms "
            f"p95 {row['p95']:6.1f} ms errors {row['errors']}; CPU ms a request: "
            f"gunicorn {web:.2f}, PostgreSQL {cpu['PostgreSQL']:.2f}, "
            f"worker {cpu['celery worker']:.2f}, driver {cpu['driver']:.2f}",
            flush=True,
        )
        return row

    def spread(items: list, level: int) -> list[list]:
        return [items[n::level] for n in range(level)]

    print("load average at the start:", loadavg(), flush=True)

    # --- 1. the floors -------------------------------------------------------------------
    floors = [
        ("hello (gunicorn alone)", lambda n: (hello_port, "GET", "/", None, None), 200),
        ("GET /api/v1/ without a token", lambda n: (port, "GET", "/api/v1/", None, None), 401),
        (
            "GET /api/v1/ (auth only)",
            lambda n: (port, "GET", "/api/v1/", officers[n][0], None),
            200,
        ),
        (
            "GET auth/tokens/<id>/ (1 row)",
            lambda n: (port, "GET", f"/api/v1/auth/tokens/{officers[n][1]}/", officers[n][0], None),
            200,
        ),
    ]
    # Warm-up, not counted: every gunicorn worker imports and builds what it builds lazily.
    for label, job, expect in floors:
        run(label, 2, [[job(n)] * 20 for n in range(2)], expect, record=False)
    for level in levels:
        each = args.requests // level
        for label, job, expect in floors:
            run(label, level, [[job(n)] * each for n in range(level)], expect)

    # --- 2. filings, then an officer's cycle one request at a time ---------------------------
    case_ids: list[int] = []
    lock = threading.Lock()

    def file_one(item) -> None:
        (company, token), record = item
        session = requests.Session()
        headers = {"Authorization": f"Token {token}"}
        response = session.post(
            f"{url}/api/v1/cases/",
            headers=headers,
            json={
                "kind": "objection",
                "subject_code": company.code,
                "record_ids": [record.pk],
                "grounds": "The decision names the wrong branch.",
            },
            timeout=60,
        )
        case = response.json()["id"]
        session.post(
            f"{url}/api/v1/cases/{case}/evidence/",
            headers=headers,
            data={"material": "correction_evidence", "record": record.pk},
            files={"file": ("evidence.pdf", pdf_bytes("correction"), "application/pdf")},
            timeout=60,
        ).raise_for_status()
        with lock:
            case_ids.append(case)

    from concurrent.futures import ThreadPoolExecutor

    began = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(file_one, records))
    print(f"filed {len(case_ids)} objections in {time.perf_counter() - began:.1f} s", flush=True)

    def drain(limit: float = 600) -> float:
        """Wait until the worker has nothing queued or running and its CPU stands still."""
        began = time.perf_counter()
        last = -1.0
        while time.perf_counter() - began < limit:
            used = cpu_seconds()["celery worker"]
            if not (broker.llen("celery") or broker.hlen("unacked")) and used == last:
                break
            last = used
            time.sleep(0.5)
        return time.perf_counter() - began

    drain()
    worker_rows = []
    pending = list(case_ids)
    # The first level is a warm-up (each gunicorn worker's first cycle builds its templates,
    # translations and caches), not counted.
    for level in [0, *levels]:
        record = level > 0
        level = level or 2
        cases = [pending.pop() for _ in range(args.per_level if record else warm)]
        lists = spread(cases, level)
        row = run(
            "queue lookup (GET tasks/)",
            level,
            [
                [
                    (port, "GET", f"/api/v1/tasks/?box=queue&case={case}", officers[n][0], None)
                    for case in lists[n]
                ]
                for n in range(level)
            ],
            200,
            record=record,
        )
        tasks = [
            [
                next(
                    t["id"]
                    for t in json.loads(payload)["results"]
                    if t["step"] == "acceptance_check"
                )
                for payload in answers
            ]
            for answers in row["answers"]
        ]
        run(
            "claim",
            level,
            [
                [(port, "POST", f"/api/v1/tasks/{task}/claim/", officers[n][0], None) for task in t]
                for n, t in enumerate(tasks)
            ],
            200,
            record=record,
        )
        run(
            "complete (accept)",
            level,
            [
                [
                    (
                        port,
                        "POST",
                        f"/api/v1/tasks/{task}/complete/",
                        officers[n][0],
                        {"decision": "accept", "note": "OK."},
                    )
                    for task in t
                ]
                for n, t in enumerate(tasks)
            ],
            200,
            quiet_worker=True,
            record=record,
        )
        before = cpu_seconds()
        load_before = loadavg()
        took = drain()
        after = cpu_seconds()
        if not record:
            continue
        worker_rows.append(
            (
                level,
                args.per_level,
                took,
                (after["celery worker"] - before["celery worker"]) / args.per_level * 1000,
                (after["PostgreSQL"] - before["PostgreSQL"]) / args.per_level * 1000,
                (load_before, loadavg()),
            )
        )
        print(
            f"worker after c={level}: {worker_rows[-1][3]:.1f} ms CPU an acceptance "
            f"(PostgreSQL {worker_rows[-1][4]:.1f} ms), {took:.1f} s to drain",
            flush=True,
        )

    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_events"],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=600,
    )
    stop()
    print("verify_events:", verify.returncode, (verify.stdout.strip().splitlines() or [""])[-1])
    print("load average at the end:", loadavg())

    # --- tables ----------------------------------------------------------------------------
    print(
        "\n| request | c | requests/s | p50 / p95 ms | errors | CPU ms a request: "
        "gunicorn | PostgreSQL | driver | load before → after |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        cpu = row["cpu"]
        web = cpu["gunicorn (Redress)"] + cpu["gunicorn (hello)"]
        print(
            f"| {row['label']} | {row['level']} | {row['rps']:.1f} | "
            f"{row['p50']:.1f} / {row['p95']:.1f} | {row['errors']} | {web:.2f} | "
            f"{cpu['PostgreSQL']:.2f} | {cpu['driver']:.2f} | "
            f"{row['load'][0].split()[0]} → {row['load'][1].split()[0]} |"
        )
    print(
        "\n| worker after the acceptances at c | acceptances | drained in s | worker CPU ms "
        "an acceptance | PostgreSQL ms | load before → after |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for level, n, took, worker, pg, load in worker_rows:
        print(
            f"| {level} | {n} | {took:.1f} | {worker:.1f} | {pg:.1f} | "
            f"{load[0].split()[0]} → {load[1].split()[0]} |"
        )


if __name__ == "__main__":
    main()
