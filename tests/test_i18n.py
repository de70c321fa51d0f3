"""Chinese from end to end: what the services refuse reaches a Chinese page or API
client in Chinese, and no string a person can see is left without its translation."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from cases.models import Case, Material
from cases.vocabulary import EventKind
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, restorable_record

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
HAN = re.compile(r"[\u4e00-\u9fff]")
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    from django.core.files.storage import storages

    monkeypatch.setattr(storages["evidence"], "location", str(tmp_path))


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


def chinese_api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def file_case(client, record, **overrides):
    body = {
        "kind": "restoration",
        "subject_code": record.subject.code,
        "record_ids": [record.pk],
        "grounds": "罚款已缴清，违法行为已改正。",
        **overrides,
    }
    return client.post("/api/v1/cases/", body, format="json")


# --- what the services refuse, in the reader's language ------------------------------------


def test_an_early_restoration_is_told_in_chinese_over_the_api(applicant, company, agency):
    early = factories.RecordFactory(subject=company, agency=agency, listed_on=timezone.localdate())

    response = chinese_api(applicant).get(f"/api/v1/records/{early.pk}/eligibility/")

    assert response.status_code == 200
    body = response.json()
    assert body["finding"] == "not_yet"  # the machine-readable part stays
    assert body["message"] == (
        f"尚不符合：自 {early.restorable_from:%Y-%m-%d} 起方可申请，依据《信用修复管理办法》第十二条。"
    )


def test_a_subject_code_with_a_wrong_check_character_is_explained_in_chinese(applicant, record):
    code = record.subject.code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")

    response = file_case(chinese_api(applicant), record, subject_code=wrong)

    assert response.status_code == 400
    assert response.json()["field"] == "subject_code"
    message = response.json()["message"]
    assert "校验码" in message and "第18位" in message, message
    assert not re.search(r"[A-Za-z]{4,}", message), message  # no English sentence left


def test_a_wrong_state_action_is_refused_in_chinese(applicant, company, record, staff):
    case = flow.accept(flow.file_restoration(company, [record], applicant), staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    flow.sign(case, staff["signer"], flow.APPROVED)

    response = chinese_api(applicant).post(f"/api/v1/cases/{case.pk}/withdraw/", {}, format="json")

    assert response.status_code == 409
    assert HAN.search(response.json()["message"]), response.json()
    assert not re.search(r"[A-Za-z]{4,}", response.json()["message"].replace(case.reference, ""))


def test_a_disguised_upload_is_refused_in_chinese_on_the_portal(client, applicant, company, record):
    client.force_login(applicant)
    client.post(reverse("portal:language"), {"language": "zh-hans", "next": "/portal/"})
    case = flow.file_restoration(company, [record], applicant, with_materials=False)

    response = client.post(
        reverse("portal:evidence_upload", args=[case.pk]),
        {
            "material": Material.OTHER,
            "record": "",
            "files": [SimpleUploadedFile("invoice.pdf", EXECUTABLE, "application/pdf")],
        },
        follow=True,
    )

    page = response.content.decode()
    assert "仅接收 PDF、PNG 或 JPEG 文件" in page
    assert "Only PDF, PNG and JPEG" not in page
    assert not case.evidence.exists()


def test_the_lockout_message_is_in_the_callers_language(applicant, settings):
    settings.AXES_FAILURE_LIMIT = 1
    client = APIClient(HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = {"username": applicant.username, "password": "wrong"}
    client.post("/api/v1/auth/token/", body, format="json")

    locked = client.post("/api/v1/auth/token/", body, format="json")

    assert locked.json()["code"] == "locked_out"
    assert "登录失败次数过多" in locked.json()["message"]


# --- the catalogue ------------------------------------------------------------------------------


def _xgettext_missing() -> str | None:
    if shutil.which("xgettext") and shutil.which("msgcmp"):
        return None
    return "needs GNU gettext (xgettext, msgcmp): apt-get install gettext (scripts/setup test does)"


@pytest.mark.engine_independent
def test_every_string_a_person_can_see_has_a_chinese_translation(tmp_path):
    """Extract the strings of the code as ``makemessages`` does, into a copy of the
    project, and compare: none missing from the catalogue, none empty or fuzzy there."""
    missing_tools = _xgettext_missing()
    if missing_tools:
        if os.environ.get("CI") == "true":
            pytest.fail(missing_tools)
        pytest.skip(missing_tools)
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("manage.py", "pyproject.toml"):
        shutil.copy(ROOT / name, copy / name)
    for folder in (
        "cases",
        "documents",
        "notifications",
        "workflows",
        "portal",
        "workspace",
        "api",
        "backoffice",
        "config",
        "templates",
    ):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "locale").mkdir()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-location",
            "--no-obsolete",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    extracted = copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

    compared = subprocess.run(  # noqa: S603
        [shutil.which("msgcmp"), str(CATALOGUE), str(extracted)],
        capture_output=True,
        text=True,
    )

    assert compared.returncode == 0, (
        "Strings without a Chinese translation (add them to locale/zh_Hans, see its header):\n"
        + compared.stderr
    )
    assert "#, fuzzy" not in CATALOGUE.read_text(encoding="utf-8").split('msgstr ""', 1)[1]


# --- the vocabulary of case events ----------------------------------------------------------------

# Where the project's code lives (tests write events too, but only kinds of this code).
CODE_FOLDERS = (
    "cases",
    "documents",
    "notifications",
    "workflows",
    "portal",
    "workspace",
    "api",
    "backoffice",
    "config",
    "bench",
)


class KindScan(ast.NodeVisitor):
    """The kinds each ``event_record(case, kind, ...)`` call of one module can write.

    A kind is found where it is written as a literal, an ``EventKind`` member, either
    branch of a conditional, or a module-level name or mapping of those (the outbox's
    status → kind table); any other expression is reported as unreadable, so a kind
    cannot slip past the check by being computed.
    """

    def __init__(self, tree: ast.Module, where: str):
        self.where = where
        self.module_values = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        self.kinds: dict[str, list[str]] = {}
        self.unreadable: list[str] = []

    def visit_Call(self, node: ast.Call):
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "event_record":
            kind = node.args[1] if len(node.args) > 1 else None
            kind = kind or next((k.value for k in node.keywords if k.arg == "kind"), None)
            place = f"{self.where}:{node.lineno}"
            for value in self.resolve(kind, place):
                self.kinds.setdefault(value, []).append(place)
        self.generic_visit(node)

    def resolve(self, node, place: str) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "EventKind":
            member = getattr(EventKind, node.attr, None)
            return [member.value if member is not None else f"EventKind.{node.attr}"]
        if isinstance(node, ast.IfExp):
            return self.resolve(node.body, place) + self.resolve(node.orelse, place)
        if isinstance(node, ast.Name) and node.id in self.module_values:
            return self.resolve(self.module_values[node.id], place)
        if isinstance(node, ast.Subscript):
            return self.resolve(node.value, place)
        if isinstance(node, ast.Dict):
            return [kind for value in node.values for kind in self.resolve(value, place)]
        self.unreadable.append(f"{place}: {ast.unparse(node) if node else '(no kind)'}")
        return []


def kinds_the_code_writes() -> tuple[dict[str, list[str]], list[str]]:
    kinds: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for folder in CODE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            scan = KindScan(tree, str(path.relative_to(ROOT)))
            scan.visit(tree)
            for kind, places in scan.kinds.items():
                kinds.setdefault(kind, []).extend(places)
            unreadable.extend(scan.unreadable)
    return kinds, unreadable


@pytest.mark.engine_independent
def test_every_kind_of_event_the_code_writes_has_a_label():
    written, unreadable = kinds_the_code_writes()

    assert unreadable == [], (
        "event_record is called with a kind this check cannot read; write it as a literal "
        "or an EventKind member:\n" + "\n".join(unreadable)
    )
    # The scan sees the domain's, the letters' and the outbox's kinds (it looks at all).
    assert {"decided", "letter_issued", "notification_dead"} <= set(written)
    unlabelled = {kind: places for kind, places in written.items() if kind not in EventKind.values}
    assert unlabelled == {}, (
        "Kinds of event without a label: add each to cases.vocabulary.EventKind "
        f"(label, Chinese translation, whether the applicant sees it): {unlabelled}"
    )


@pytest.mark.engine_independent
@pytest.mark.parametrize("kind", list(EventKind), ids=EventKind.values)
def test_every_kind_of_event_reads_in_chinese(kind):
    with translation.override("en"):
        english = str(kind.label)
    with translation.override("zh-hans"):
        chinese = str(kind.label)

    assert chinese != english, f"{kind.value}: {english!r} has no Chinese translation"
    assert HAN.search(chinese), chinese


# --- kinds of miss: English that reaches a Chinese reader -------------------------------------

# Where a refusal or a clock reason reaches people (the operators' import reports of
# cases/imports.py are not covered yet).
USER_FACING = ("workflows", "portal", "workspace", "api", "documents", "notifications")
REFUSALS = {"InvalidInput", "WrongState", "NotPermitted", "RuleViolation", "RedressError"}
CLOCK_CALLS = {
    "deadline_start",
    "deadline_close",
    "deadline_stop",
    "deadline_resume",
    "deadlines_close_all",
}


def _bare_text(node) -> bool:
    """A sentence written as a literal or an f-string, not through gettext."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(node.value)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.IfExp):
        return _bare_text(node.body) or _bare_text(node.orelse)
    return False


@pytest.mark.engine_independent
def test_no_refusal_or_clock_reason_is_written_without_gettext():
    misses = []
    paths = [p for folder in USER_FACING for p in sorted((ROOT / folder).rglob("*.py"))]
    paths.append(ROOT / "cases" / "transitions.py")
    for path in paths:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in REFUSALS and node.args and _bare_text(node.args[0]):
                misses.append(f"{where}: {ast.unparse(node.args[0])[:80]}")
            if name in CLOCK_CALLS:
                for keyword in node.keywords:
                    if keyword.arg == "reason" and _bare_text(keyword.value):
                        misses.append(f"{where}: reason {ast.unparse(keyword.value)[:80]}")

    assert misses == [], (
        "Sentences a person reads, written without gettext (wrap refusals in _(); mark "
        "clock reasons with gettext_noop, shown through ClockEntry.reason_text):\n"
        + "\n".join(misses)
    )


def test_a_chinese_reader_sees_the_clock_and_the_objection_notice_in_chinese(
    client, applicant, company, record, staff
):
    case = flow.file_objection(company, [record], applicant)
    Case.objects.filter(pk=case.pk).update(language="zh-hans")
    case = flow.accept(case, staff["intake"])

    client.force_login(applicant)
    client.post(reverse("portal:language"), {"language": "zh-hans", "next": "/portal/"})
    page = client.get(reverse("portal:case", args=[case.pk])).content.decode()

    assert "受理）" in page or "已受理" in page
    assert "(accepted)" not in page
    notice = applicant.notifications.filter(case=case, kind="accepted").get()
    assert notice.title.startswith("【异议】"), notice.title
    assert "信用修复" not in notice.title


# --- the record import, in the reader's language ----------------------------------------


def _import_refusal(path, **limits) -> str:
    from cases.imports import ImportFileInvalid, ImportLimits, import_records

    defaults = ImportLimits.from_settings()
    limits = ImportLimits(
        max_rows=limits.get("max_rows", defaults.max_rows),
        max_columns=limits.get("max_columns", defaults.max_columns),
        max_bytes=limits.get("max_bytes", defaults.max_bytes),
    )
    agency = factories.AgencyFactory(code="IMPZH")
    with pytest.raises(ImportFileInvalid) as refused:
        import_records(path, agency=agency, limits=limits)
    return refused.value.message


HEADER = (
    "list_type,subject_code,subject_name,decision_no,legal_basis,severity,listed_on,penalty_type"
)


@pytest.mark.django_db
def test_every_import_refusal_reaches_a_chinese_reader_in_chinese(tmp_path):
    """The file-level refusals, the rarer ones too (size and row caps, a hostile
    workbook, an overlong CSV line), and the row and cell errors of the record import
    are in Chinese for a Chinese reader, with no English sentence left in them."""
    from cases.imports import CSV_MAX_LINE_CHARS, import_records

    row = "penalty_publication,{code},示例公司,深市监罚〔2025〕{n}号,,general,{on},fine"
    files = {}
    files["oversize"] = (tmp_path / "big.csv", {"max_bytes": 10})
    files["oversize"][0].write_text(HEADER + "\n", encoding="utf-8")
    files["rows"] = (tmp_path / "rows.csv", {"max_rows": 1})
    files["rows"][0].write_text(
        HEADER + "\n" + "\n".join(row.format(code="x", n=n, on="2025-01-01") for n in (1, 2)),
        encoding="utf-8",
    )
    files["line"] = (tmp_path / "line.csv", {})
    files["line"][0].write_text(HEADER + "\n" + "x" * (CSV_MAX_LINE_CHARS + 1), encoding="utf-8")
    files["not_zip"] = (tmp_path / "fake.xlsx", {})
    files["not_zip"][0].write_bytes(b"list_type,subject_code\n")
    files["header"] = (tmp_path / "header.csv", {})
    files["header"][0].write_text("list_type,colour\n", encoding="utf-8")
    files["suffix"] = (tmp_path / "old.xls", {})
    files["suffix"][0].write_bytes(b"\xd0\xcf\x11\xe0")
    files["nul"] = (tmp_path / "nul.csv", {})
    files["nul"][0].write_bytes(HEADER.encode() + b"\x00\n")

    # A hostile workbook: its sheet declares an entity ("billion laughs").
    import zipfile

    from openpyxl import Workbook

    sound = tmp_path / "sound.xlsx"
    Workbook().save(sound)
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(sound) as source, zipfile.ZipFile(hostile, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = data.split(b"?>", 1)[-1] if data.startswith(b"<?xml") else data
                data = b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]>' + body
            target.writestr(item, data)
    files["hostile"] = (hostile, {})

    english = re.compile(r"\b(?:the|file|row|column|is|not|one|import|save)\b")
    with translation.override("zh-hans"):
        for name, (path, limits) in files.items():
            message = _import_refusal(path, **limits)
            assert HAN.search(message), (name, message)
            assert not english.search(message), (name, message)
            if name == "hostile":
                assert "声明了实体" in message, message

        # Row and cell errors, and the summary.
        bad = tmp_path / "bad.csv"
        bad.write_text(
            HEADER
            + "\n"
            + row.format(code="91440300MA5G1234XX", n=1, on="2999-01-01").replace("general", "huge")
            + "\n"
            + row.format(code="", n=2, on="yesterday"),
            encoding="utf-8",
        )
        agency = factories.AgencyFactory(code="IMPZH2")
        report = import_records(bad, agency=agency)
        assert report.errors
        for error in report.errors:
            text = str(error)
            assert text.startswith("第 "), text
            assert HAN.search(error.message), text
            assert not english.search(error.message), text
        assert "未导入任何记录" in report.summary


@pytest.mark.engine_independent
def test_the_import_writes_no_sentence_without_gettext():
    """The import's refusals and row errors are written through gettext (the scan of
    test_no_refusal_or_clock_reason_is_written_without_gettext, for cases/imports.py)."""
    path = ROOT / "cases" / "imports.py"
    misses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ("ImportFileInvalid", "_CellInvalid") and node.args and _bare_text(node.args[0]):
            misses.append(f"{node.lineno}: {ast.unparse(node.args[0])[:80]}")
        if name == "RowError" and len(node.args) == 3 and _bare_text(node.args[2]):
            misses.append(f"{node.lineno}: {ast.unparse(node.args[2])[:80]}")
    assert misses == [], misses
