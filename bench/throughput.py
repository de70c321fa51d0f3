"""Officer throughput through the real stack (not a test: it measures, it asserts nothing).

    .venv/bin/python bench/throughput.py [--levels 1,4,8,16] [--per-level 60]
        [--web-workers 2] [--database redress_bench_throughput] [--redis-db 4] [--no-write]

Starts what production runs, on this machine: gunicorn (deploy/gunicorn.conf.py, the
production settings, ``--web-workers`` processes) and one Celery worker (concurrency 1) on
a fresh PostgreSQL database of its own and a Redis database, then through the REST API:

1. filings: entities file objections (POST /api/v1/cases/) with one evidence upload each,
   at concurrency 8: filings per second (file + upload) and their p50/p95;
2. claim-and-complete: at each concurrency of ``--levels``, as many officer threads take
   ``--per-level`` acceptance checks from the queue, claim and accept them: completions
   per second, p50/p95 of the complete call and of claim + complete, and errors;
3. ``manage.py verify_events`` on the whole database afterwards.

Each officer thread signs in as an officer of its own (the API throttles per user). The
figures, the machine and its load go to bench/RESULTS.md under "Throughput" unless
``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECTION = "## Throughput through the API"

from stack import celery_worker, free_port, gunicorn, percentile, production_env


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--per-level", type=int, default=60)
    parser.add_argument("--filing-concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--database", default="redress_bench_throughput")
    parser.add_argument("--redis-db", type=int, default=4)
    parser.add_argument("--no-write", action="store_true")
    return parser.parse_args()


ARGS = parse()
LEVELS = [int(n) for n in ARGS.levels.split(",")]
VAR = Path(tempfile.mkdtemp(prefix="redress-throughput-"))
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{ARGS.database}"
ENV = production_env("throughput", ARGS.database, ARGS.redis_db, VAR)
os.environ.update(ENV)

import psycopg

with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
    admin.execute(f'DROP DATABASE IF EXISTS "{ARGS.database}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{ARGS.database}"')

import django

django.setup()

import redis
import requests
from django.core.management import call_command

from cases.signing import key_generate

key_generate(Path(ENV["REDRESS_AUDIT_KEY_FILE"]))
call_command("migrate", verbosity=0)
redis.Redis(db=ARGS.redis_db).flushdb()

from cases.models import Role
from tests import factories
from tests.helpers import api_token, pdf_bytes


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of each part of the stack, from /proc: gunicorn's
    processes, the Celery worker's, PostgreSQL's backends of this database, and this
    driver (the officers' threads). A backend that ended in between loses its share;
    production keeps connections (``DATABASE_CONN_MAX_AGE``), so they live through a run."""
    tick = os.sysconf("SC_CLK_TCK")
    parts = {"gunicorn": 0.0, "celery worker": 0.0, "PostgreSQL": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if "gunicorn" in cmdline:
            parts["gunicorn"] += used
        elif "celery" in cmdline and "worker" in cmdline:
            parts["celery worker"] += used
        elif cmdline.startswith("postgres:") and f" {ARGS.database} " in cmdline:
            parts["PostgreSQL"] += used
    times = os.times()
    parts["driver (this script)"] = times.user + times.system
    return parts


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# --- the installation -----------------------------------------------------------------------
port = free_port()
URL = f"http://127.0.0.1:{port}"
logs = {name: (VAR / f"{name}.log").open("ab") for name in ("web", "worker")}
processes = [
    gunicorn(port, ARGS.web_workers, VAR, "config.wsgi:application", logs["web"]),
    celery_worker(logs["worker"]),
]


def stop() -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


for _ in range(120):
    try:
        if requests.get(f"{URL}/api/v1/", timeout=2).status_code < 500:
            break
    except requests.RequestException:
        time.sleep(0.5)
else:
    stop()
    sys.exit("gunicorn did not answer; see " + str(VAR / "web.log"))

# --- people and records -----------------------------------------------------------------------
needed = ARGS.per_level * len(LEVELS)
agency = factories.AgencyFactory(code="SZAMR", name="深圳市市场监督管理局")
companies = []
for number in range(8):
    company = factories.SubjectFactory(name=f"深圳市示例{number}科技有限公司")
    companies.append((company, api_token(factories.representative(company, f"rep-{number}"))))
records = [
    (companies[i % 8], factories.RecordFactory(subject=companies[i % 8][0], agency=agency))
    for i in range(needed)
]
officers = [
    api_token(factories.officer(Role.INTAKE, agency, f"intake-{n}")) for n in range(max(LEVELS))
]
session_local = threading.local()


def session() -> requests.Session:
    if not hasattr(session_local, "s"):
        session_local.s = requests.Session()
    return session_local.s


def call(method: str, path: str, token: str, **kwargs) -> tuple[int, float, dict]:
    began = time.perf_counter()
    response = session().request(
        method,
        f"{URL}/api/v1/{path}",
        headers={"Authorization": f"Token {token}"},
        timeout=60,
        **kwargs,
    )
    took = time.perf_counter() - began
    body = response.json() if response.headers.get("Content-Type", "").startswith("appl") else {}
    return response.status_code, took, body


# --- 1. filings ---------------------------------------------------------------------------
filing_times: list[float] = []
filing_errors = 0
case_ids: list[int] = []
lock = threading.Lock()


def file_one(item) -> None:
    global filing_errors
    (company, token), record = item
    began = time.perf_counter()
    status, _, body = call(
        "POST",
        "cases/",
        token,
        json={
            "kind": "objection",
            "subject_code": company.code,
            "record_ids": [record.pk],
            "grounds": "The decision names the wrong branch.",
        },
    )
    ok = status == 201
    if ok:
        status, _, _ = call(
            "POST",
            f"cases/{body['id']}/evidence/",
            token,
            data={"material": "correction_evidence", "record": record.pk},
            files={"file": ("evidence.pdf", pdf_bytes("correction"), "application/pdf")},
        )
        ok = status == 201
    with lock:
        if ok:
            filing_times.append(time.perf_counter() - began)
            case_ids.append(body["id"])
        else:
            filing_errors += 1


load_before = load()
began = time.perf_counter()
with ThreadPoolExecutor(ARGS.filing_concurrency) as pool:
    list(pool.map(file_one, records))
filing_wall = time.perf_counter() - began
print(f"filings: {len(filing_times)} in {filing_wall:.1f} s, errors {filing_errors}")


# --- 2. claim and complete at rising concurrency -------------------------------------------------
def take_and_accept(officer: str, work: list[int], out: dict) -> None:
    while True:
        with lock:
            if not work:
                return
            case_id = work.pop()
        began = time.perf_counter()
        status, _, body = call("GET", "tasks/", officer, params={"box": "queue", "case": case_id})
        tasks = [t for t in body.get("results", []) if t["step"] == "acceptance_check"]
        if status != 200 or len(tasks) != 1:
            out["errors"] += 1
            continue
        task = tasks[0]["id"]
        status, _, _ = call("POST", f"tasks/{task}/claim/", officer)
        if status != 200:
            out["errors"] += 1
            continue
        status, took, _ = call(
            "POST", f"tasks/{task}/complete/", officer, json={"decision": "accept", "note": "OK."}
        )
        if status != 200:
            out["errors"] += 1
            continue
        with lock:
            out["complete"].append(took)
            out["cycle"].append(time.perf_counter() - began)


results = []
pending = list(case_ids)
# The filings' own messages are the worker's backlog until it has sent them: let it drain
# first, so that the CPU counted below is the completions' (on a loaded machine the worker
# was still delivering the filings' notices when the officers started).
broker = redis.Redis(db=ARGS.redis_db)
began = time.perf_counter()
while (broker.llen("celery") or broker.hlen("unacked")) and time.perf_counter() - began < 300:
    time.sleep(1)
cpu_before = cpu_seconds()
for level in LEVELS:
    work = [pending.pop() for _ in range(min(ARGS.per_level, len(pending)))]
    out = {"errors": 0, "complete": [], "cycle": []}
    began = time.perf_counter()
    threads = [
        threading.Thread(target=take_and_accept, args=(officers[n], work, out))
        for n in range(level)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    results.append((level, len(out["complete"]), wall, out))
    print(
        f"c={level}: {len(out['complete']) / wall:.1f} completions/s, "
        f"complete p50 {percentile(out['complete'], 50) * 1000:.0f} ms, errors {out['errors']}"
    )
load_after = load()
cpu_after = cpu_seconds()

# The worker's share: letters and messages still queued when the officers stopped.
broker = redis.Redis(db=ARGS.redis_db)
queue_left = broker.llen("celery")
# verify_events reads each chain while nothing writes to it: wait for the worker's backlog
# (letters, deliveries) to drain first.
began = time.perf_counter()
while (broker.llen("celery") or broker.hlen("unacked")) and time.perf_counter() - began < 600:
    time.sleep(1)
drained = time.perf_counter() - began
cpu_drained = cpu_seconds()
completions = sum(done for _level, done, _wall, _out in results)
cpu_rows = [
    f"| {part} | {cpu_after[part] - cpu_before[part]:.1f} | "
    f"{cpu_drained[part] - cpu_before[part]:.1f} | "
    f"{(cpu_drained[part] - cpu_before[part]) / max(completions, 1) * 1000:.0f} |"
    for part in cpu_before
]
print("\n".join(cpu_rows))
verify = subprocess.run(
    [sys.executable, "manage.py", "verify_events"],
    cwd=ROOT,
    env={**os.environ},
    capture_output=True,
    text=True,
    timeout=600,
)
stop()
verify_line = (verify.stdout.strip().splitlines() or ["(no output)"])[-1]
print("verify_events:", verify.returncode, verify_line)

# --- report -----------------------------------------------------------------------------------
with psycopg.connect(DATABASE_URL) as conn:
    pg_version = conn.execute("show server_version").fetchone()[0]
rows = [
    f"| filings (POST case + one evidence upload), c={ARGS.filing_concurrency} | "
    f"{len(filing_times) / filing_wall:.1f}/s ({len(filing_times)} filed, {filing_errors} errors),"
    f" p50 {percentile(filing_times, 50) * 1000:.0f} ms, p95 "
    f"{percentile(filing_times, 95) * 1000:.0f} ms |"
]
for level, done, wall, out in results:
    rows.append(
        f"| claim + complete (accept), c={level} | {done / wall:.1f} completions/s ({done} in "
        f"{wall:.1f} s, {out['errors']} errors); complete p50 "
        f"{percentile(out['complete'], 50) * 1000:.0f} ms, p95 "
        f"{percentile(out['complete'], 95) * 1000:.0f} ms; queue→done p50 "
        f"{percentile(out['cycle'], 50) * 1000:.0f} ms, p95 "
        f"{percentile(out['cycle'], 95) * 1000:.0f} ms |"
    )
report = f"""{SECTION}

Run {datetime.date.today():%Y-%m-%d} with `.venv/bin/python bench/throughput.py --levels {ARGS.levels}
--per-level {ARGS.per_level} --web-workers {ARGS.web_workers}` on {os.cpu_count()} CPU(s)
({platform.processor() or platform.machine()}), Python {platform.python_version()}, PostgreSQL
{pg_version}: gunicorn with deploy/gunicorn.conf.py and the production settings
({ARGS.web_workers} workers, `DATABASE_CONN_MAX_AGE` at its production default), one Celery
worker (`-c 1`) on Redis, all on this machine. Load average before {load_before}, after
{load_after} (with 2 CPUs a figure above 2 means other work shared the machine).

| measure | result |
| --- | --- |
{chr(10).join(rows)}
| Celery tasks still queued when the officers stopped | {queue_left} (drained {drained:.0f} s later) |
| `verify_events` afterwards | exit {verify.returncode}: {verify_line} |

CPU used by the claims and completions ({completions}, all levels), while the officers
worked and until the worker's backlog (their letters and messages) had drained:

| part | CPU s while working | CPU s until drained | CPU ms per completion |
| --- | ---: | ---: | ---: |
{chr(10).join(cpu_rows)}

Target: ≥ 100 completions/s on 2 cores (issue 16).
"""
print(report)
if not ARGS.no_write:
    path = ROOT / "bench/RESULTS.md"
    text = path.read_text()
    if SECTION in text:
        start = text.index(SECTION)
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + report + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + report
    path.write_text(text)
