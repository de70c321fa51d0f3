"""Issue 10's findings about the web layer, as an operator and an attacker meet them.

The production static files are collected (a package's stylesheet that names a file it
lacks no longer stops ``collectstatic``; ``check --deploy`` says when they were not
collected).

The production path as a whole (gunicorn, a browser) is ``tests/test_production_path.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import viewflow
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.staticfiles import RedressStaticFilesStorage
from documents.codes import verification_code_new
from documents.models import Letter
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from tests.production import ROOT, production_env

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture
def case(company, agency, platforms, applicant):
    """A restoration at its acceptance check, with its two materials."""
    return flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )


LETTER_PDF = b"%PDF-1.4\n% an issued letter\n%%EOF\n"


def issued_letter(case) -> Letter:
    """An issued letter with a stored (placeholder) PDF."""
    letter = Letter(
        case=case,
        kind=Letter.Kind.ACCEPTANCE,
        language="en",
        status=Letter.Status.ISSUED,
        verification_code=verification_code_new(),
        issued_at=timezone.now(),
        template_version="test",
        template_sha256="0" * 64,
        html="<p>Acceptance notice</p>",
        sha256=hashlib.sha256(LETTER_PDF).hexdigest(),
        size=len(LETTER_PDF),
    )
    letter.pdf.save(f"{case.reference}/{letter.file_name}", ContentFile(LETTER_PDF), save=False)
    letter.save()
    return letter


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# --- 1: the production static files ------------------------------------------------------------


def test_collectstatic_under_production_settings_collects_what_the_pages_use(production_static):
    manifest = json.loads((production_static / "staticfiles.json").read_text())["paths"]

    for name in (
        "viewflow/css/viewflow.min.css",
        "viewflow/js/viewflow.min.js",
        "viewflow/fonts/roboto/roboto-fontface.css",
        "viewflow/fonts/roboto/Roboto-Regular.woff2",
        "portal/portal.css",
        "portal/upload.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "admin/css/base.css",
    ):
        assert name in manifest, name
        assert (production_static / manifest[name]).is_file(), manifest[name]
        assert manifest[name] != name  # hashed: browsers may keep it for a year


def _collect(target: Path, source: Path, names: list[str]) -> list:
    """What ``collectstatic`` does with ``names`` from ``source``: copy, then post-process."""
    storage = RedressStaticFilesStorage(location=str(target), base_url="/static/")
    origin = FileSystemStorage(location=str(source))
    for name in names:
        with origin.open(name) as content:
            storage.save(name, content)
    return list(storage.post_process({name: (origin, name) for name in names}))


def test_a_packages_stylesheet_naming_a_file_it_does_not_ship_is_left_as_written(tmp_path, caplog):
    # The very file that stopped collectstatic: django-viewflow 2.4's build leftover.
    viewflow_static = Path(viewflow.__file__).parent / "static"
    name = "viewflow/fonts/roboto/node_modules/roboto-fontface/css/roboto/roboto-fontface.css"
    assert "url('./Roboto-Thin.woff2')" in (viewflow_static / name).read_text()

    with caplog.at_level(logging.WARNING, logger="config.staticfiles"):
        processed = _collect(tmp_path, viewflow_static, [name])

    assert [p for p in processed if isinstance(p[2], Exception)] == []
    hashed = next(hashed for original, hashed, _ in processed if original == name)
    assert "url('./Roboto-Thin.woff2')" in (tmp_path / hashed).read_text()
    assert any("Roboto-Thin.woff2" in r.getMessage() for r in caplog.records)


def test_our_own_stylesheet_naming_a_missing_file_still_stops_collectstatic(tmp_path):
    ours = tmp_path / "source"
    (ours / "portal").mkdir(parents=True)
    (ours / "portal" / "broken.css").write_text("body { background: url('missing.png'); }")

    processed = _collect(tmp_path / "collected", ours, ["portal/broken.css"])

    failures = [p[2] for p in processed if isinstance(p[2], Exception)]
    assert len(failures) == 1
    assert "missing.png" in str(failures[0])


def test_check_deploy_says_when_the_static_files_were_not_collected(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "redress.E001" in result.stderr
    assert "collectstatic" in result.stderr
