"""What a letter may load while it is rendered: ``data:`` URIs and our own assets.

WeasyPrint's default fetcher opens any URL it meets: ``<img src="file:///etc/passwd">``
or ``<link rel=attachment href="file:///...">`` read (and embed) local files, and
``http://127.0.0.1/...`` reaches internal services. Letters are rendered from a
string with no base URL, through ``LetterURLFetcher``, which serves ``data:`` URIs
the assets named in ``ASSETS`` (as ``redress-asset:<name>``: the seal drawn in
``documents/assets/`` and the letters' font, see ``documents.fonts``), and agencies'
own seals by content hash (``redress-seal:<sha256>.png``, see ``seal_bytes``), and
refuses everything else. WeasyPrint catches the
refusal, logs it and leaves the resource out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote_to_bytes

from weasyprint import URLFetcher
from weasyprint.urls import URLFetcherResponse

from documents.fonts import letter_font
from documents.models import Letter

ASSET_SCHEME = "redress-asset:"
SEAL_SCHEME = "redress-seal:"
SEALS_FOLDER = "seals"
SEAL_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
SEAL_NAME = re.compile(r"\A([0-9a-f]{64})\.(png|jpg)\Z")
ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def _packaged(file_name: str) -> Callable[[], bytes]:
    return lambda: (ASSETS_DIR / file_name).read_bytes()


def _letter_font() -> bytes | None:

    return letter_font()


# name in a letter -> (content type, what it is). Nothing else is served.
ASSETS: dict[str, tuple[str, Callable[[], bytes | None]]] = {
    "seal.svg": ("image/svg+xml", _packaged("seal.svg")),
    "letter-serif-sc.otf": ("font/otf", _letter_font),
}

MAX_DATA_URI_BYTES = 2 * 1024 * 1024


class ResourceRefused(ValueError):
    """A letter asked for something it may not load."""


def asset_url(name: str) -> str:
    if name not in ASSETS:
        raise ResourceRefused(f"{name!r} is not a packaged letter asset")
    return ASSET_SCHEME + name


def asset_bytes(name: str) -> bytes:
    """The asset's content; ``ResourceRefused`` for an unknown or unavailable one."""
    if name not in ASSETS:
        raise ResourceRefused(f"{name!r} is not a packaged letter asset")
    content = ASSETS[name][1]()
    if content is None:
        raise ResourceRefused(f"{name!r} is not available on this machine")
    return content


def seal_bytes(name: str) -> bytes:
    """An agency's seal as stored for letters: ``<sha256>.png|jpg`` in the letters storage.

    Content-addressed: the file must hash to its name, so a letter always gets the
    image it was written with, and nothing but a seal can be read this way.
    """
    match = SEAL_NAME.match(name)
    if match is None:
        raise ResourceRefused(f"{name!r} is not a seal name")

    try:
        with Letter.storage().open(f"{SEALS_FOLDER}/{name}", "rb") as handle:
            content = handle.read(MAX_DATA_URI_BYTES + 1)
    except OSError as exc:
        raise ResourceRefused(f"seal {name} is not stored") from exc
    if hashlib.sha256(content).hexdigest() != match[1]:
        raise ResourceRefused(f"seal {name} does not match its hash")
    return content


def _parse_data_uri(url: str) -> tuple[bytes, str]:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise ResourceRefused("malformed data: URI")
    parts = header.split(";")
    is_base64 = parts[-1].lower() == "base64"
    if is_base64:
        parts = parts[:-1]
    content_type = parts[0].strip() or "text/plain"
    try:
        body = base64.b64decode(payload, validate=False) if is_base64 else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise ResourceRefused("malformed data: URI") from exc
    if len(body) > MAX_DATA_URI_BYTES:
        raise ResourceRefused("data: URI too large")
    return body, content_type


class LetterURLFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that reads no file and opens no connection.

    Subclassing ``URLFetcher`` keeps WeasyPrint's error handling (a refused
    resource is skipped with a warning); ``fetch`` never calls the parent, whose
    handlers would open files and sockets.
    """

    def __init__(self) -> None:
        super().__init__(
            allowed_protocols=("data", "redress-asset", "redress-seal"), fail_on_errors=False
        )

    def fetch(self, url, headers=None) -> URLFetcherResponse:
        if not isinstance(url, str):
            raise ResourceRefused("not a URL")
        if url.startswith("data:"):
            body, content_type = _parse_data_uri(url)
            return URLFetcherResponse(url, body, {"Content-Type": content_type})
        if url.startswith(ASSET_SCHEME):
            name = url[len(ASSET_SCHEME) :]
            if name not in ASSETS:
                raise ResourceRefused(f"{name!r} is not a packaged letter asset")
            content = asset_bytes(name)
            return URLFetcherResponse(url, content, {"Content-Type": ASSETS[name][0]})
        if url.startswith(SEAL_SCHEME):
            name = url[len(SEAL_SCHEME) :]
            content = seal_bytes(name)
            return URLFetcherResponse(url, content, {"Content-Type": SEAL_TYPES[name[-3:]]})
        raise ResourceRefused(f"letters load nothing from {url[:80]!r}")
