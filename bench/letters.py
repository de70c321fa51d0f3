"""Letters and exports benchmark (not a test: it asserts nothing, it measures).

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/letters.py
        [--letters 1000] [--baseline 100] [--export-letters 10000] [--no-write]

On a throw-away SQLite database (the test settings put it in a fresh temporary
folder) it builds one rejected case whose Chinese letter runs to two pages, then:

1. our full path, data to stored PDF, ``--letters`` times in one process
   (``letter_request``: facts and HTML; ``letter_render_now``: PDF/A, storage,
   hash, ``letter_issued`` event), with the process's RSS along the way;
2. WeasyPrint alone on the same HTML (``HTML(string=...).write_pdf()`` with one
   shared ``FontConfiguration``), ``--baseline`` times, and the ratio of the two;
3. the export of ``--export-letters`` letter rows (copies of the rows of a few
   real PDFs, with valid event chains) in a child process, its time and peak
   RSS, and ``verify_export`` on the result.

Results go to bench/RESULTS.md under "Letters and exports" (replacing that
section only) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
if os.environ.get("DATABASE_URL"):
    sys.exit("bench/letters.py makes its own SQLite database: unset DATABASE_URL first.")
# Everything the bench writes (database, letters, the export) goes to a folder of its own,
# set before the settings are read; the export child process inherits it.
# (The export child runs in its parent's folder.)
if "--export-child" not in sys.argv:
    os.environ["REDRESS_VAR_DIR"] = tempfile.mkdtemp(prefix="redress-bench-")
VAR_DIR = Path(os.environ["REDRESS_VAR_DIR"])

import django

django.setup()

from django.core.management import call_command

SECTION = "## Letters and exports"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across fork/exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data -----------------------------------------------------------------------------------


def build_case():
    """A restoration of four records, reviewed item by item and rejected: a 2-page letter.

    Filed, accepted, reviewed and signed through the route (``workflows.actions``), as
    the portal and the officers' pages do it."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from backoffice.management.commands.demo import DEMO_PDF
    from cases.identifiers import make_uscc
    from cases.models import (
        Agency,
        Case,
        CaseRecord,
        Evidence,
        ListType,
        Material,
        Membership,
        Platform,
        Publication,
        Record,
        Representation,
        Role,
        Subject,
    )
    from workflows import actions
    from workflows.flows import FLOWS

    def step(case, name, user, **data):
        """``user`` claims the case's open task ``name`` and completes it with ``data``."""
        node = getattr(FLOWS[case.kind].instance, name)
        task = next(t for t in actions.open_tasks(case) if t.flow_task == node)
        actions.task_claim(task=task, user=user)
        return actions.task_complete(task=task, user=user, data=data)

    User = get_user_model()
    agency, _ = Agency.objects.update_or_create(
        code="SZAMR",
        defaults={
            "name": "深圳市市场监督管理局",
            "name_en": "Shenzhen Administration for Market Regulation",
            "region_code": "440300",
            "address": "深圳市福田区深南大道7010号",
            "reconsideration_body": "深圳市人民政府",
            "court": "深圳市福田区人民法院",
        },
    )
    platforms = [
        Platform.objects.get_or_create(
            code="creditchina", defaults={"name": "信用中国", "kind": "credit_china"}
        )[0],
        Platform.objects.get_or_create(
            code="gsxt", defaults={"name": "国家企业信用信息公示系统", "kind": "necips"}
        )[0],
    ]
    staff = {}
    for role in (Role.INTAKE, Role.CASE_OFFICER, Role.SIGNER):
        staff[role] = User.objects.create_user(f"{role}-bench", password="x")
        Membership.objects.create(user=staff[role], agency=agency, role=role)
    applicant = User.objects.create_user("applicant-bench", password="x")
    subject = Subject.objects.create(
        kind="legal", code=make_uscc(org_body="MA5BNCH1"), name="深圳市华信达科技有限公司"
    )
    Representation.objects.create(user=applicant, subject=subject, confirmed_at=timezone.now())
    penalty = ListType.objects.get(code="penalty_publication")
    today = timezone.localdate()
    records = []
    for n in range(4):
        record = Record.objects.create(
            list_type=penalty,
            subject=subject,
            agency=agency,
            decision_no=f"深市监罚〔2025〕{1000 + n}号",
            legal_basis="《中华人民共和国行政处罚法》第二十八条、《中华人民共和国广告法》第五十五条",
            severity="general",
            penalty_type="fine",
            listed_on=today - datetime.timedelta(days=300 + n),
            restorable_from=today - datetime.timedelta(days=200),
            expires_on=today + datetime.timedelta(days=65),
        )
        for p in platforms:
            Publication.objects.create(record=record, platform=p, published_on=record.listed_on)
        records.append(record)
    case = actions.case_submit(
        kind=Case.Kind.RESTORATION,
        subject=subject,
        records=records,
        applicant=applicant,
        grounds="我司已于二〇二五年足额缴纳全部罚款，对违法广告进行了全面整改，"
        "并组织全体员工参加信用修复培训，现申请对上述四条行政处罚信息提前停止公示。" * 2,
    )
    pdf = DEMO_PDF  # a valid PDF: evidence uploads read its structure
    for n, record in enumerate(records):
        actions.evidence_add(
            case=case,
            uploaded_by=applicant,
            upload=ContentFile(pdf + f"% {n} c\n".encode(), name=f"信用承诺书{n + 1}.pdf"),
            material=Material.COMMITMENT_LETTER,
            record=record,
        )
        actions.evidence_add(
            case=case,
            uploaded_by=applicant,
            upload=ContentFile(pdf + f"% {n} f\n".encode(), name=f"罚款缴纳凭证{n + 1}.pdf"),
            material=Material.FULFILMENT_PROOF,
            record=record,
        )
    step(case, "acceptance_check", staff[Role.INTAKE], decision="accept")
    reviews = []
    for item in case.evidence.all():
        rejected = item.material == Material.FULFILMENT_PROOF and item.pk % 2 == 0
        reviews.append(
            {
                "evidence": item.pk,
                "outcome": Evidence.Outcome.REJECTED if rejected else Evidence.Outcome.ACCEPTED,
                "reason": "缴款凭证所载金额与处罚决定书确定的罚款金额不一致，且缺少银行回单。"
                if rejected
                else "",
            }
        )
    step(
        case,
        "evidence_review",
        staff[Role.CASE_OFFICER],
        reviews=reviews,
        recommendation=Case.Decision.REJECTED,
    )
    CaseRecord.objects.filter(case=case).update(
        reason="申请人未能证明已全部履行行政处罚决定，且整改报告未说明违法广告的下架时间。"
    )
    return step(
        case,
        "sign_off",
        staff[Role.SIGNER],
        decision=Case.Decision.REJECTED,
        reasons="经审查，申请人提交的证据不足以证明其已履行全部法定义务并完成整改，"
        "不符合《信用修复管理办法（试行）》规定的修复条件。",
    )


# --- 1 and 2: letters ---------------------------------------------------------------------


def bench_letters(case, count: int, baseline_count: int) -> dict:
    """Our full path ``count`` times; WeasyPrint alone interleaved with the first letters."""
    import statistics

    from pypdf import PdfReader
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from documents import services
    from documents.fetcher import asset_bytes
    from documents.models import Letter
    from documents.rendering import PDF_VARIANT

    def one():
        letter = services.letter_request(case, Letter.Kind.REJECTION, language="zh-hans")
        return services.letter_render_now(letter)

    def timed(function):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        return result, time.perf_counter() - wall, time.process_time() - cpu

    warm = 20
    for _ in range(warm):
        letter = one()  # imports, fonts, templates, caches
    with letter.pdf.open("rb") as handle:
        pages = len(PdfReader(handle).pages)

    # WeasyPrint alone on the same HTML, with the same seal and font given as files
    # (its default fetcher cannot read our redress-asset: URLs), one shared font config.
    assets = VAR_DIR / "bench-assets"
    assets.mkdir(exist_ok=True)
    html = letter.html
    for name in ("seal.svg", "letter-serif-sc.otf"):
        (assets / name).write_bytes(asset_bytes(name))
        html = html.replace(f"redress-asset:{name}", (assets / name).as_uri())
    system_font_html = html.replace('font-family: "Redress Serif SC", ', "font-family: ")
    fonts = FontConfiguration()
    HTML(string=html).write_pdf(font_config=fonts)
    HTML(string=system_font_html).write_pdf(font_config=fonts)

    baselines = {
        # WeasyPrint alone, asked for the same PDF (PDF/A-2u, which implies a file identifier).
        "same": lambda: HTML(string=html).write_pdf(
            font_config=fonts, pdf_variant=PDF_VARIANT, pdf_identifier=b"0" * 32
        ),
        # WeasyPrint alone with its defaults (plain PDF, no identifier).
        "plain": lambda: HTML(string=html).write_pdf(font_config=fonts),
        # ... and with the full system font instead of the letters' cut of it.
        "system_font": lambda: HTML(string=system_font_html).write_pdf(font_config=fonts),
    }
    for baseline in baselines.values():
        baseline()

    load_before = " / ".join(str(round(x, 1)) for x in os.getloadavg())
    rss_start = rss_mb()
    samples = {warm: round(rss_start, 1)}
    full_wall, full_cpu = [], []
    alone = {name: ([], []) for name in baselines}
    started = time.perf_counter()
    for n in range(warm + 1, count + 1):
        letter, wall, cpu = timed(one)
        full_wall.append(wall)
        full_cpu.append(cpu)
        if n - warm <= baseline_count:  # interleaved, so that all see the same machine load
            for name, baseline in baselines.items():
                _, wall, cpu = timed(baseline)
                alone[name][0].append(wall)
                alone[name][1].append(cpu)
        if n in (50, 100, 250, 500, 750, 1000) or n == count:
            samples[n] = round(rss_mb(), 1)
    elapsed = time.perf_counter() - started
    rss_end = rss_mb()
    paired = len(alone["same"][0])

    def ms(values):
        return round(statistics.median(values) * 1000, 1)

    def ratio(ours, theirs):
        return round(statistics.median(ours[:paired]) / statistics.median(theirs), 2)

    return {
        "pages": pages,
        "pdf_kb": round(letter.size / 1024, 1),
        "letters": count,
        "measured": len(full_wall),
        "full_wall_ms": ms(full_wall),
        "full_cpu_ms": ms(full_cpu),
        "letters_per_s_wall": round(len(full_wall) / sum(full_wall), 2),
        "letters_per_s_cpu": round(len(full_cpu) / sum(full_cpu), 2),
        "paired": paired,
        "full_paired_cpu_ms": ms(full_cpu[:paired]),
        "full_paired_wall_ms": ms(full_wall[:paired]),
        "alone_wall_ms": ms(alone["same"][0]),
        "alone_cpu_ms": ms(alone["same"][1]),
        "plain_cpu_ms": ms(alone["plain"][1]),
        "system_font_cpu_ms": ms(alone["system_font"][1]),
        "ratio_cpu": ratio(full_cpu, alone["same"][1]),
        "ratio_wall": ratio(full_wall, alone["same"][0]),
        "ratio_plain_cpu": ratio(full_cpu, alone["plain"][1]),
        "elapsed_s": round(elapsed, 1),
        "rss_start_mb": round(rss_start, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": round(rss_end - rss_start, 1),
        "rss_samples": samples,
        "load_before": load_before,
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


# --- 3: export ----------------------------------------------------------------------------------


def build_export_rows(case, total_letters: int, per_case: int = 5) -> dict:
    """``total_letters`` issued letter rows over decided cases, pointing at real stored PDFs."""
    from django.db import transaction
    from django.utils import timezone

    from cases import signing
    from cases.events import GENESIS, event_payload, head_message, payload_hash
    from cases.models import Case, CaseEvent
    from documents.codes import verification_code_new
    from documents.models import Letter

    sources = list(Letter.objects.filter(case=case, status=Letter.Status.ISSUED).order_by("id")[:5])
    decided_at = timezone.make_aware(datetime.datetime(2026, 3, 10, 10, 0))
    started = time.perf_counter()
    n_cases = total_letters // per_case
    with transaction.atomic():
        cases = Case.objects.bulk_create(
            [
                Case(
                    reference=f"BX-2026-{n:06d}",
                    kind=case.kind,
                    subject=case.subject,
                    agency=case.agency,
                    grounds="bench",
                    applicant=case.applicant,
                    filed_by=case.filed_by,
                    status=Case.Status.CLOSED,
                    rule_set=case.rule_set,
                    decision=Case.Decision.REJECTED,
                    decided_at=decided_at,
                )
                for n in range(1, n_cases + 1)
            ],
            batch_size=1000,
        )
        letters, events = [], []
        for bench_case in cases:
            prev = GENESIS
            chain = [("decided", {"signers": ["signer-bench"]})]
            rows = []
            for i in range(per_case):
                source = sources[i % len(sources)]
                row = Letter(
                    case=bench_case,
                    kind=Letter.Kind.REJECTION,
                    language="zh-hans",
                    status=Letter.Status.ISSUED,
                    verification_code=verification_code_new(),
                    issued_at=decided_at,
                    template_version=source.template_version,
                    template_sha256=source.template_sha256,
                    rule_version=source.rule_version,
                    html="",
                    pdf=source.pdf.name,
                    sha256=source.sha256,
                    size=source.size,
                )
                rows.append(row)
                chain.append(
                    (
                        "letter_issued",
                        {"sha256": source.sha256, "verification_code": row.verification_code},
                    )
                )
            letters.extend(rows)
            for seq, (kind, data) in enumerate(chain, start=1):
                event = CaseEvent(
                    case=bench_case,
                    seq=seq,
                    kind=kind,
                    actor_role="system",
                    automated=True,
                    at=decided_at,
                    data=data,
                    prev_hash=prev,
                )
                event.hash = payload_hash(event_payload(event, reference=bench_case.reference))
                prev = event.hash
                events.append(event)
            # The signed head event_record would have left on the case row.
            bench_case.head_seq, bench_case.head_hash = len(chain), prev
            bench_case.head_signature = signing.sign(
                head_message(bench_case.reference, len(chain), prev)
            )
        Letter.objects.bulk_create(letters, batch_size=2000)
        CaseEvent.objects.bulk_create(events, batch_size=2000)
        Case.objects.bulk_update(
            cases, ["head_seq", "head_hash", "head_signature"], batch_size=1000
        )
    return {
        "cases": n_cases,
        "letters": len(letters),
        "events": len(events),
        "setup_s": round(time.perf_counter() - started, 1),
    }


def export_child(out: str) -> None:
    """Runs in a child process so that its peak RSS is the export's alone."""
    from cases.models import Agency
    from documents.exports import export_verify, export_write

    before = rss_mb()
    started = time.perf_counter()
    with open(out, "wb") as handle:
        summary = export_write(
            handle,
            agency=Agency.objects.get(code="SZAMR"),
            date_from=datetime.date(2026, 3, 1),
            date_to=datetime.date(2026, 3, 31),
        )
    export_s = time.perf_counter() - started
    export_peak = peak_mb()
    started = time.perf_counter()
    report = export_verify(out)
    verify_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rss_before_mb": round(before, 1),
                "export_s": round(export_s, 1),
                "export_peak_mb": round(export_peak, 1),
                "zip_mb": round(os.path.getsize(out) / 1024 / 1024, 1),
                "exported_letters": summary.letters,
                "exported_cases": summary.cases,
                "verify_s": round(verify_s, 1),
                "verify_ok": report.ok,
                "verify_problems": report.problems[:5],
                "peak_mb_with_verify": round(peak_mb(), 1),
            }
        )
    )


# --- report ------------------------------------------------------------------------------------


def machine() -> dict:
    import weasyprint

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "weasyprint": weasyprint.__version__,
        "django": django.get_version(),
    }


def section(m: dict, letters: dict, export: dict, setup: dict) -> str:
    today = datetime.date.today().isoformat()
    samples = ", ".join(f"{k}: {v}" for k, v in letters["rss_samples"].items())
    load = " / ".join(str(x) for x in letters["load_average"])
    return f"""{SECTION}

Run {today} with `DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/letters.py`
on {m["nproc"]} CPU(s) ({m["cpu"] or "unknown CPU"}), Python {m["python"]}, WeasyPrint
{m["weasyprint"]}, Django {m["django"]}, SQLite, local-disk storage, one process. Load
average {letters["load_before"]} before the letters and {load} after them (with {m["nproc"]} CPUs, a
figure near or above {m["nproc"]} means other work shared the machine): CPU time per letter is
the steadier figure, wall time what a worker saw.

Letter: a rejected restoration of four records with eight reviewed evidence items, in
Chinese: {letters["pages"]} pages, {letters["pdf_kb"]} KB, PDF/A-2u.

| measure | result | target |
| --- | --- | --- |
| full path, data → stored PDF (facts, HTML, PDF/A, storage, hash, event), median | {letters["full_cpu_ms"]} ms CPU, {letters["full_wall_ms"]} ms wall | |
| letters per second, one process ({letters["measured"]} letters) | {letters["letters_per_s_cpu"]} by CPU time, {letters["letters_per_s_wall"]} by wall time | ≥ 8 |
| WeasyPrint alone, same HTML, font and PDF options (PDF/A-2u), shared FontConfiguration, median of {letters["paired"]} interleaved | {letters["alone_cpu_ms"]} ms CPU, {letters["alone_wall_ms"]} ms wall | |
| ratio full path / WeasyPrint alone (same {letters["paired"]} rounds) | {letters["ratio_cpu"]} by CPU, {letters["ratio_wall"]} by wall | ≤ 1.2 |
| WeasyPrint alone with its defaults (plain PDF, no file identifier) | {letters["plain_cpu_ms"]} ms CPU (ratio {letters["ratio_plain_cpu"]}) | |
| WeasyPrint alone with the full system Noto Serif CJK SC (no cut font) | {letters["system_font_cpu_ms"]} ms CPU | |
| RSS from letter 20 to letter {letters["letters"]} | {letters["rss_start_mb"]} → {letters["rss_end_mb"]} MB ({letters["rss_growth_mb"]:+} MB) | flat |
| export of {export["exported_letters"]} letters ({export["exported_cases"]} cases, ZIP {export["zip_mb"]} MB) | {export["export_s"]} s | |
| export peak RSS (the child process; {export["rss_before_mb"]} MB after Django started) | {export["export_peak_mb"]} MB | < 300 MB |
| `verify_export` of that ZIP (no database) | {export["verify_s"]} s, {"OK" if export["verify_ok"] else "FAILED"}, peak {export["peak_mb_with_verify"]} MB | |

RSS (MB) by letters rendered: {samples}. The export's {setup["letters"]} letter rows
point at copies of five real letters' PDFs; each case has a valid event chain
({setup["events"]} events in all).
"""


def write_results(text: str) -> Path:
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if SECTION in current:
        head, _, rest = current.partition(SECTION)
        following = rest.find("\n## ")
        tail = rest[following + 1 :] if following != -1 else ""
        current = head.rstrip() + "\n\n" + text + ("\n" + tail if tail else "")
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--export-letters", type=int, default=10000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the bench's temporary folder.")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return

    from django.conf import settings

    database = Path(settings.DATABASES["default"]["NAME"]).resolve()
    if not database.is_relative_to(VAR_DIR.resolve()):
        sys.exit(f"Refusing to run: the database {database} is not the bench's own.")
    try:
        run(args)
    finally:
        if not args.keep:
            shutil.rmtree(VAR_DIR, ignore_errors=True)


def run(args) -> None:
    from documents import services

    # Measure the worker's path, not the broker: the bench renders in-process what a worker
    # would, and the letters the case's decisions ask for are not queued anywhere.
    services.letter_enqueue = lambda letter_id: None
    call_command("migrate", verbosity=0, skip_checks=True)
    case = build_case()
    print(f"Rendering {args.letters} letters...", flush=True)
    letters = bench_letters(case, args.letters, args.baseline)
    print(json.dumps(letters, indent=1), flush=True)
    print(f"Preparing {args.export_letters} letter rows for the export...", flush=True)
    setup = build_export_rows(case, args.export_letters)
    print(json.dumps(setup), flush=True)
    out = VAR_DIR / "bench-export.zip"
    child = subprocess.run(  # noqa: S603 - this script, with our own arguments
        [sys.executable, __file__, "--export-child", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=True,
    )
    export = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(export, indent=1), flush=True)
    out.unlink(missing_ok=True)
    text = section(machine(), letters, export, setup)
    print(text)
    if not args.no_write:
        print(f"Written to {write_results(text)}")


if __name__ == "__main__":
    main()
