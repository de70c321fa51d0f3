"""A letter prints what people typed; it never follows it.

Names, grounds and reasons come from applicants and officers. With WeasyPrint's default
fetcher, ``<link rel=attachment href="file:///etc/passwd">`` embeds that file in the
PDF and an ``http://127.0.0.1/...`` URL is fetched from the server. Here such text is
printed as text, no file is read, no connection is opened, nothing is attached.
"""

import hashlib
import http.server
import io
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from pypdf import PdfReader

from cases.models import Case
from documents import fetcher as fetcher_module
from documents.fetcher import (
    ASSET_SCHEME,
    SEAL_SCHEME,
    LetterURLFetcher,
    ResourceRefused,
)
from documents.models import Letter
from documents.rendering import pdf_identifier, pdf_render
from documents.services import letter_render_now, letter_request
from tests import factories
from tests.flow_helpers import not_accept, submit
from tests.helpers import restorable_record

SECRET = b"root:x:0:0"

pytestmark = pytest.mark.usefixtures("private_files")


@pytest.fixture
def local_server():
    """A web server on 127.0.0.1 that records every request it receives."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            received.append(self.path)
            body = b"\x89PNG\r\n\x1a\n" if self.path.endswith(".png") else b"body{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def passwd():
    """A stand-in for /etc/passwd that the test controls (the real one is tried too).

    In a short folder of its own: the path goes into a subject's name, whose column
    holds 300 characters, and pytest's own temporary paths grow with the test's name.
    """
    folder = Path(tempfile.mkdtemp(prefix="rd-"))
    path = folder / "passwd"
    path.write_bytes(SECRET + b":root:/root:/bin/bash\n")
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fetched(monkeypatch):
    """Every URL the letter fetcher is asked for, and those it served."""
    asked, served = [], []
    original = LetterURLFetcher.fetch

    def spy(self, url, headers=None):
        asked.append(url)
        response = original(self, url, headers)
        served.append(url)
        return response

    monkeypatch.setattr(LetterURLFetcher, "fetch", spy)
    return asked, served


def assert_harmless(content: bytes, received: list, fetched) -> None:
    _, served = fetched
    reader = PdfReader(io.BytesIO(content))
    assert not reader.attachments
    assert SECRET not in content
    assert received == [], f"the letter reached the local server: {received}"
    assert all(url.startswith(("data:", "redress-asset:")) for url in served), served


def flat(text: str) -> str:
    return "".join(text.split())


def test_hostile_names_grounds_and_reasons_are_printed_as_text(
    agency, platforms, staff, local_server, passwd, fetched
):
    base, received = local_server
    hostile = (
        f'<img src="file://{passwd}">'
        f'<link rel=attachment href="file://{passwd}">'
        '<link rel=attachment href="file:///etc/passwd">'
        f'<img src="{base}/x.png">'
    )
    company = factories.SubjectFactory(name=f"深圳恶意科技有限公司{hostile}")
    applicant = factories.representative(company, "mallory")
    record = restorable_record(company, agency, platforms)
    case = submit(
        Case.Kind.RESTORATION,
        company,
        [record],
        applicant,
        grounds=f'申请事由 <style>@import url("{base}/evil.css");</style> {base}/x',
    )
    case = not_accept(
        case,
        staff["intake"],
        reasons=f'<link rel=stylesheet href="{base}/evil.css"><img src="file:///etc/passwd">',
    )

    letter = letter_render_now(letter_request(case, Letter.Kind.NON_ACCEPTANCE, language="zh-hans"))

    assert letter.status == Letter.Status.ISSUED, letter.last_error
    with letter.pdf.open("rb") as handle:
        content = handle.read()
    assert_harmless(content, received, fetched)
    text = flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))
    assert flat(f'<img src="file://{passwd}">') in text
    assert flat('<link rel=attachment href="file:///etc/passwd">') in text
    assert flat(f'@import url("{base}/evil.css")') in text
    assert flat(f"{base}/x") in text
    # The typed markup never became an element: the fetcher was asked for our own assets
    # only (the seal, and the letter font when this process has not loaded it yet).
    assert "redress-asset:seal.svg" in fetched[0]
    assert set(fetched[0]) <= {"redress-asset:seal.svg", "redress-asset:letter-serif-sc.otf"}
    assert "&lt;img" in letter.html


def test_even_raw_html_reads_no_file_opens_no_connection_and_attaches_nothing(
    local_server, passwd, fetched
):
    """Defence in depth: the renderer itself, given hostile markup, still loads nothing."""
    base, received = local_server
    html = f"""<html><head>
    <link rel="stylesheet" href="{base}/evil.css">
    <link rel="attachment" href="file://{passwd}">
    <link rel="attachment" href="file:///etc/passwd">
    <link rel="attachment" href="{base}/leak">
    <style>@import url("{base}/import.css");
      body {{ background: url("file://{passwd}"); }}
      @font-face {{ font-family: x; src: url("{base}/font.woff"); }}</style>
    </head><body>
    <img src="file://{passwd}"><img src="file:///etc/passwd"><img src="{base}/x.png">
    <img src="passwd"><img src="/etc/passwd"><object data="file://{passwd}"></object>
    <svg><image href="file://{passwd}"/><image href="{base}/svg.png"/></svg>
    <p>正文</p></body></html>"""

    content = pdf_render(html, issued_at=timezone.now(), identifier=pdf_identifier("raw"))

    assert_harmless(content, received, fetched)
    assert "正文" in PdfReader(io.BytesIO(content)).pages[0].extract_text()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "http://127.0.0.1:8000/x",
        "https://example.com/seal.png",
        "ftp://example.com/x",
        "seal.svg",
        "/etc/passwd",
        "../settings.py",
        "redress-asset:../apps.py",
        "redress-asset:/etc/passwd",
        "redress-asset:seal.png",
        "redress-asset:",
        "REDRESS-ASSET:seal.svg",
        "javascript:alert(1)",
        "data:,x" + "y" * (fetcher_module.MAX_DATA_URI_BYTES + 1),
        "data:image/png;base64",
        "redress-seal:../../config/settings/base.py",
        "redress-seal:" + "0" * 64 + ".png",  # a well-formed name of no stored seal
        "redress-seal:" + "A" * 64 + ".png",
        "redress-seal:" + "0" * 64 + ".svg",
    ],
)
def test_the_letter_fetcher_refuses_everything_but_data_and_our_assets(url, monkeypatch):
    opened = []
    monkeypatch.setattr(fetcher_module, "asset_bytes", lambda name: opened.append(name))
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda *a, **k: opened.append(a))

    with pytest.raises(ResourceRefused):
        LetterURLFetcher().fetch(url)
    assert opened == []


def test_the_letter_fetcher_serves_data_uris_and_named_assets():
    fetcher = LetterURLFetcher()

    image = fetcher.fetch("data:image/png;base64,iVBORw0KGgo=")
    assert image.read() == b"\x89PNG\r\n\x1a\n" and image.content_type == "image/png"
    assert fetcher.fetch("data:text/plain,hello%20there").read() == b"hello there"

    seal = fetcher.fetch(ASSET_SCHEME + "seal.svg")
    assert seal.content_type == "image/svg+xml" and b"<svg" in seal.read()


def test_a_stored_seal_that_no_longer_matches_its_hash_is_refused():
    content = b"\x89PNG\r\n\x1a\n" + b"seal"
    name = f"{hashlib.sha256(content).hexdigest()}.png"
    Letter.storage().save(f"seals/{name}", ContentFile(content + b"tampered"))

    with pytest.raises(ResourceRefused):
        LetterURLFetcher().fetch(SEAL_SCHEME + name)
