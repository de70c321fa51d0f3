"""Checking an uploaded file before anything of it is kept.

The type is decided by the content (magic numbers via puremagic), never by the
name or the browser's claim; only PDF, PNG and JPEG are taken. The name is kept
only as a sanitised label; the file is stored under a random name. A malware
scanner can be plugged in with ``REDRESS_MALWARE_SCANNER`` (a dotted path to a
callable taking the bytes and raising ``UploadRejected``); ClamAV through its
daemon is the documented option.

What an officer opens must be a document and nothing more (the decision record
``docs/decisions/0012-import-and-upload-limits.md`` argues the list):

- a PDF is parsed with pypdf (so compressed object streams and escaped names hide
  nothing) and refused if it cannot be read, needs a password, or carries active
  content: JavaScript; actions that start a program, open another file or send data
  (Launch, GoToR, GoToE, SubmitForm, ImportData, RichMediaExecute); an action run
  by itself on opening or viewing (``/OpenAction``, ``/AA``) other than going to a
  page; embedded files; an XFA form; an image over the pixel limit;
- a PNG or JPEG is refused if its header says it has more pixels than
  ``REDRESS_UPLOAD_MAX_IMAGE_PIXELS``, read by Pillow without decoding a pixel.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass

import puremagic
from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from cases.errors import UploadRejected

logger = logging.getLogger(__name__)

ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    content_type: str
    sha256: str
    size: int
    name: str


def sanitise_name(name: str) -> str:
    """A display label for the uploaded name: no path, no control characters, ≤ 120 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C"
    )
    name = name.strip().lstrip(".") or "upload"
    return name[:120]


def upload_check(uploaded, *, max_bytes: int | None = None) -> CheckedUpload:
    """Read and check an uploaded file (Django ``UploadedFile`` or any file object)."""
    limit = max_bytes or settings.REDRESS_UPLOAD_MAX_BYTES
    declared = getattr(uploaded, "size", None)
    limit_mb = f"{limit / 1_048_576:.0f}"
    if declared is not None and declared > limit:
        raise UploadRejected(
            _("The file is %(size)s MB; the limit is %(limit)s MB.")
            % {"size": f"{declared / 1_048_576:.1f}", "limit": limit_mb},
            code="too_large",
        )
    content = uploaded.read(limit + 1)
    if len(content) > limit:
        raise UploadRejected(
            _("The file is larger than the %(limit)s MB limit.") % {"limit": limit_mb},
            code="too_large",
        )
    if not content:
        raise UploadRejected(_("The file is empty."), code="empty")
    try:
        detected = puremagic.from_string(content, mime=True)
    except puremagic.PureError:
        detected = ""
    if detected not in ALLOWED_TYPES:
        if detected:
            message = _(
                "Only PDF, PNG and JPEG files are accepted (it looks like %(type)s); "
                "the file name does not decide this."
            ) % {"type": detected}
        else:
            message = _(
                "Only PDF, PNG and JPEG files are accepted; the file name does not decide this."
            )
        raise UploadRejected(message, code="type_not_allowed")
    if detected == "application/pdf":
        pdf_check(content)
    else:
        image_check(content)
    scanner_path = getattr(settings, "REDRESS_MALWARE_SCANNER", "")
    if scanner_path:
        import_string(scanner_path)(content)
    return CheckedUpload(
        content=content,
        content_type=detected,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        name=sanitise_name(getattr(uploaded, "name", "") or "upload"),
    )


# --- images -------------------------------------------------------------------


def image_check(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG, read from its header; ``UploadRejected`` if
    it cannot be read or has more pixels than ``REDRESS_UPLOAD_MAX_IMAGE_PIXELS``.

    No pixel is decoded: a 30,000 × 30,000 PNG of one colour is a few hundred KB on
    disk and 3.6 GB in the memory of whoever opens it.
    """
    try:
        # Pillow warns between its own limit and twice it; the limit applied is ours.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        # Pillow's own guard (twice its MAX_IMAGE_PIXELS) fired before ours could.
        raise _image_too_large() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
        # Pillow reports a broken PNG chunk as SyntaxError.
        raise UploadRejected(
            _(
                "The image cannot be read (it may be damaged or incomplete). "
                "Save or scan it again and upload the new file."
            ),
            code="image_unreadable",
        ) from None
    if width * height > settings.REDRESS_UPLOAD_MAX_IMAGE_PIXELS:
        raise _image_too_large(width, height)
    return width, height


def _pixel_limit() -> str:
    """The pixel limit in millions, as a person reads it: "100", "50", "12.5"."""
    return f"{settings.REDRESS_UPLOAD_MAX_IMAGE_PIXELS / 1_000_000:g}"


def _image_too_large(width: int | None = None, height: int | None = None) -> UploadRejected:
    limit = _pixel_limit()
    if width is None:
        message = _(
            "The image has more than %(limit)s million pixels, the most an image may have. "
            "Save it at a lower resolution (a scan at 300 dpi is enough) and upload that."
        ) % {"limit": limit}
    else:
        message = _(
            "The image is %(width)s × %(height)s pixels; an image may have at most "
            "%(limit)s million pixels. Save it at a lower resolution (a scan at 300 dpi "
            "is enough) and upload that."
        ) % {"width": width, "height": height, "limit": limit}
    return UploadRejected(message, code="image_too_large")


# --- PDF ----------------------------------------------------------------------

# Actions that leave the document: start a program, open another file (a network
# path leaks the reader's Windows credentials), run an embedded one, send the form
# out or read a file in. A link to a web page (URI) on click stays allowed.
PDF_OUTSIDE_ACTIONS = frozenset(
    {"/Launch", "/GoToR", "/GoToE", "/SubmitForm", "/ImportData", "/RichMediaExecute"}
)
# An action a viewer runs by itself (on opening the file, showing a page, ...) may
# only move within the document.
PDF_AUTOMATIC_ACTIONS_ALLOWED = frozenset({"/GoTo"})

PDF_MAX_OBJECTS = 10_000
"""Most objects visited in one PDF. pypdf spends about 0.1-0.3 ms and a few KB on each,
so a 20 MB file of tiny objects would hold a request for a minute; a 300-page scan has
about 1,500 and a long born-digital report a few thousand."""

# What a damaged PDF makes pypdf raise, besides its own errors.
_PDF_DAMAGE = (
    PyPdfError,
    DependencyError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    RecursionError,
    OverflowError,
    EOFError,
    OSError,
    zlib.error,
    struct.error,
    NotImplementedError,
)


def pdf_check(content: bytes) -> None:
    """Refuse a PDF that cannot be read, needs a password or carries active content.

    Every object reachable from the trailer is visited once (by reference, so
    cycles end); no content stream is decoded. Raises ``UploadRejected`` with the
    first problem found.
    """
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        problem = _pdf_problem(reader)
    except FileNotDecryptedError:
        raise UploadRejected(
            _("The PDF is protected by a password. Upload a copy without one."),
            code="pdf_encrypted",
        ) from None
    except _PDF_DAMAGE as exc:
        logger.info("PDF refused as unreadable: %s: %s", exc.__class__.__name__, exc)
        raise UploadRejected(
            _(
                "The file is not a readable PDF (it may be damaged or incomplete). "
                "Save or scan it again and upload the new file."
            ),
            code="pdf_unreadable",
        ) from None
    if problem is not None:
        raise problem


def _pdf_problem(reader: PdfReader) -> UploadRejected | None:
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > PDF_MAX_OBJECTS:
                return UploadRejected(
                    _(
                        "The PDF is made of more than %(limit)s objects, more than any "
                        "document of a case needs. Print it to a new PDF (or scan the paper "
                        "document) and upload that."
                    )
                    % {"limit": f"{PDF_MAX_OBJECTS:,}"},
                    code="pdf_too_complex",
                )
            item = item.get_object()
        if isinstance(item, DictionaryObject):  # streams too: their dictionary
            problem = _pdf_dictionary_problem(item)
            if problem is not None:
                return problem
            stack.extend(dict.values(item))  # unresolved: references are visited once
        elif isinstance(item, ArrayObject):
            stack.extend(list.__iter__(item))
    return None


def _pdf_dictionary_problem(item: DictionaryObject) -> UploadRejected | None:
    problem = _pdf_action_problem(item)
    if problem is not None:
        return problem
    automatic = []
    if "/OpenAction" in item:
        automatic.append(item["/OpenAction"])
    if "/AA" in item and isinstance(item["/AA"], DictionaryObject):
        automatic.extend(item["/AA"][trigger] for trigger in item["/AA"])
    for first in automatic:
        problem = _pdf_automatic_action_problem(first)
        if problem is not None:
            return problem
    subtype = _pdf_value(item, "/Subtype")
    if "/EF" in item or "/EmbeddedFiles" in item or subtype == "/FileAttachment":
        return UploadRejected(
            _(
                "The PDF has files embedded in it, which evidence may not carry. Upload "
                "each document as a file of its own."
            ),
            code="pdf_embedded_file",
        )
    if "/XFA" in item:
        return UploadRejected(
            _(
                "The PDF is an XFA form, which only some programs show and which can run "
                "scripts. Print it to a new PDF and upload that."
            ),
            code="pdf_xfa",
        )
    if subtype == "/Image" and "/Width" in item and "/Height" in item:
        width, height = int(item["/Width"]), int(item["/Height"])
        if width * height > settings.REDRESS_UPLOAD_MAX_IMAGE_PIXELS:
            return UploadRejected(
                _(
                    "The PDF holds an image of %(width)s × %(height)s pixels; an image may "
                    "have at most %(limit)s million pixels. Scan at a lower resolution "
                    "(300 dpi is enough) and upload that."
                )
                % {"width": width, "height": height, "limit": _pixel_limit()},
                code="image_too_large",
            )
    return None


def _pdf_action_problem(item: DictionaryObject) -> UploadRejected | None:
    """JavaScript, or an action that leaves the document, wherever it is found."""
    kind = _pdf_value(item, "/S")
    if "/JS" in item or "/JavaScript" in item or kind == "/JavaScript":
        return UploadRejected(
            _(
                "The PDF contains JavaScript, which evidence may not carry. Print it to a "
                "new PDF (or scan the paper document) and upload that."
            ),
            code="pdf_javascript",
        )
    if kind in PDF_OUTSIDE_ACTIONS:
        return UploadRejected(
            _(
                "The PDF contains an action that starts a program, opens another file or "
                "sends data (%(action)s), which evidence may not carry. Print it to a new "
                "PDF (or scan the paper document) and upload that."
            )
            % {"action": kind[1:]},
            code="pdf_action",
        )
    return None


def _pdf_automatic_action_problem(first) -> UploadRejected | None:
    """The first action of a chain (``/Next``) run by itself that does more than go to a
    page. A destination (an array or a name) is not an action: the viewer opens there."""
    seen: set[int] = set()
    chain = [first]
    while chain:
        action = chain.pop()
        if isinstance(action, IndirectObject):
            action = action.get_object()
        if not isinstance(action, DictionaryObject) or id(action) in seen:
            continue
        seen.add(id(action))
        problem = _pdf_action_problem(action)
        if problem is not None:
            return problem
        kind = _pdf_value(action, "/S")
        if kind not in PDF_AUTOMATIC_ACTIONS_ALLOWED:
            return UploadRejected(
                _(
                    "The PDF runs an action by itself when it is opened or viewed "
                    "(%(action)s), which evidence may not do. Print it to a new PDF (or "
                    "scan the paper document) and upload that."
                )
                % {"action": str(kind)[1:] if isinstance(kind, NameObject) else "?"},
                code="pdf_automatic_action",
            )
        following = _pdf_value(action, "/Next")
        if isinstance(following, ArrayObject):
            chain.extend(list.__iter__(following))
        elif following is not None:
            chain.append(following)
    return None


def _pdf_value(item: DictionaryObject, key: str):
    """``item[key]`` resolved if it is a reference; None if absent."""
    value = dict.get(item, key)
    return value.get_object() if isinstance(value, IndirectObject) else value
