"""HTML to PDF: one WeasyPrint call, made safe, reproducible and fast.

- Safe: the HTML is given as a string with no base URL, and every resource goes
  through ``LetterURLFetcher`` (``data:`` URIs, our own assets and agencies' seals
  by hash; nothing else); any ``<link rel=attachment>`` is dropped before writing.
- Reproducible: the PDF's creation and modification dates and its file
  identifier come from the letter (its issue time and verification code), so the
  same HTML gives the same bytes.
- Fast: one ``FontConfiguration`` per process (per thread, should a worker use
  threads), created on first use; WeasyPrint otherwise loads the fonts for each
  letter and the worker's memory grows with every letter. Letters use a cut of
  the Chinese font (``documents.fonts``), and each PDF stream is compressed once.
"""

from __future__ import annotations

import datetime
import hashlib
import threading

import pydyf
from django.utils import timezone
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from documents.fetcher import LetterURLFetcher

# PDF/A-2u: archival PDF (ISO 19005-2) whose text all maps to Unicode, so a letter
# can be searched and its Chinese text extracted decades later; PDF/A-2 also
# refuses embedded non-PDF/A files. Letters embed no file, so PDF/A-3's one
# addition (arbitrary attachments) buys nothing.
PDF_VARIANT = "pdf/a-2u"

_local = threading.local()


def font_config() -> FontConfiguration:
    """The process's (thread's) shared font configuration, created on first use."""
    config = getattr(_local, "font_config", None)
    if config is None:
        config = _local.font_config = FontConfiguration()
    return config


def pdf_identifier(seed: str) -> bytes:
    """A stable PDF file identifier (32 hex digits) derived from ``seed``."""
    return hashlib.sha256(f"redress-letter:{seed}".encode()).hexdigest()[:32].encode("ascii")


def _w3c_date(at: datetime.datetime) -> str:
    return timezone.localtime(at).replace(microsecond=0).isoformat()


class _StreamOnce(pydyf.Stream):
    """A PDF stream whose serialised (compressed) form is computed once.

    pydyf serialises every object a second time to compute the file identifier that
    PDF/A requires, compressing each stream again: about 15 ms a letter, most of it
    the embedded font. A letter is written once, so the first result is kept.
    """

    @property
    def data(self):
        cached = self.__dict__.get("_data_once")
        if cached is None:
            cached = self.__dict__["_data_once"] = pydyf.Stream.data.fget(self)
        return cached


def _compress_once(document, pdf) -> None:
    if not isinstance(pydyf.Stream.__dict__.get("data"), property):
        return  # a pydyf that works differently: leave its streams alone
    for pdf_object in pdf.objects:
        if type(pdf_object) is pydyf.Stream:
            pdf_object.__class__ = _StreamOnce


def pdf_render(html: str, *, issued_at: datetime.datetime, identifier: bytes) -> bytes:
    """The PDF of ``html``: the same arguments always give the same bytes."""
    document = HTML(string=html, base_url=None, url_fetcher=LetterURLFetcher()).render(
        font_config=font_config()
    )
    metadata = document.metadata
    metadata.created = metadata.modified = _w3c_date(issued_at)
    metadata.attachments = []  # a letter embeds no file, whatever its HTML says
    return document.write_pdf(
        pdf_identifier=identifier, pdf_variant=PDF_VARIANT, finisher=_compress_once
    )
