"""The letters' own font: Noto Serif CJK SC cut down to the characters letters use.

WeasyPrint subsets every font it embeds, once per PDF. Subsetting the full Noto
Serif CJK SC (65,535 glyphs) takes about 100 ms per letter, half of the letter's
cost, and leaves ~190 KB PDFs. Cut once per process to GB 2312 (6,763 hanzi and
its symbols), Latin and the CJK and full-width punctuation (7,700 glyphs), the
same face subsets in a fraction of that, and letters are half the size.

The cut is made in memory from the installed system font with HarfBuzz's
subsetter (the library WeasyPrint itself uses), in about 0.2 s, deterministically:
the same system font gives the same bytes, so letters stay reproducible. Letters
name it first (``letter.css``: ``"Redress Serif SC", "Noto Serif CJK SC", serif``):
a character it lacks (a rare character in a person's name) is drawn from the full
Noto Serif CJK SC, and if the cut cannot be made at all, every letter falls back
to it, correct but slower.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from functools import cache

logger = logging.getLogger(__name__)

SOURCE_FAMILY = "Noto Serif CJK SC"
RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (·, ×, é in English renderings)
    (0x2000, 0x206F),  # general punctuation (—, …, “ ”, ‰)
    (0x2100, 0x214F),  # letterlike symbols (№, ℃)
    (0x2460, 0x24FF),  # enclosed numbers (①)
    (0x3000, 0x303F),  # CJK punctuation (、。《》〔〕【】)
    (0xFF00, 0xFFEF),  # full-width forms (（），：；)
)
_HB_SUBSET_SETS_LAYOUT_FEATURE_TAG = 6  # hb_subset_sets_t

_lock = threading.Lock()


def gb2312_codepoints() -> list[int]:
    """Every character of GB 2312 (levels 1 and 2 and its symbols), by code point."""
    codepoints = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                codepoints.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return sorted(codepoints)


def source_font() -> tuple[str, int] | None:
    """(file, face index) of the installed Noto Serif CJK SC Regular, via fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [fc_list, "--format", "%{file}\t%{index}\t%{style}\n", f"{SOURCE_FAMILY}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(result.stdout.splitlines()):
        parts = line.split("\t")
        if len(parts) == 3 and "Regular" in parts[2].split(","):
            return parts[0], int(parts[1] or 0)
    return None


def _harfbuzz():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(
        """
        typedef struct hb_blob_t hb_blob_t;
        typedef struct hb_face_t hb_face_t;
        typedef struct hb_set_t hb_set_t;
        typedef struct hb_subset_input_t hb_subset_input_t;
        typedef uint32_t hb_codepoint_t;
        hb_blob_t *hb_blob_create_from_file_or_fail (const char *file_name);
        void hb_blob_destroy (hb_blob_t *blob);
        const char *hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
        hb_face_t *hb_face_create (hb_blob_t *blob, unsigned int index);
        void hb_face_destroy (hb_face_t *face);
        hb_blob_t *hb_face_reference_blob (hb_face_t *face);
        void hb_set_add (hb_set_t *set, hb_codepoint_t codepoint);
        void hb_set_add_range (hb_set_t *set, hb_codepoint_t first, hb_codepoint_t last);
        void hb_set_clear (hb_set_t *set);
        hb_subset_input_t *hb_subset_input_create_or_fail (void);
        void hb_subset_input_destroy (hb_subset_input_t *input);
        hb_set_t *hb_subset_input_unicode_set (hb_subset_input_t *input);
        hb_set_t *hb_subset_input_set (hb_subset_input_t *input, int set_type);
        hb_face_t *hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
        """
    )
    return ffi, ffi.dlopen("libharfbuzz.so.0"), ffi.dlopen("libharfbuzz-subset.so.0")


def font_cut(path: str, index: int) -> bytes:
    """The face at ``path``/``index`` cut to GB 2312, Latin and punctuation (no layout features).

    Layout features are left out: they would pull in every vertical and variant form
    (13,000 glyphs instead of 7,700), and horizontal Chinese and Latin text needs none.
    """
    ffi, hb, hb_subset = _harfbuzz()
    blob = hb.hb_blob_create_from_file_or_fail(path.encode())
    if blob == ffi.NULL:
        raise OSError(f"HarfBuzz cannot read {path}")
    face = hb.hb_face_create(blob, index)
    subset_input = hb_subset.hb_subset_input_create_or_fail()
    try:
        unicodes = hb_subset.hb_subset_input_unicode_set(subset_input)
        for codepoint in gb2312_codepoints():
            hb.hb_set_add(unicodes, codepoint)
        for first, last in RANGES:
            hb.hb_set_add_range(unicodes, first, last)
        hb.hb_set_clear(
            hb_subset.hb_subset_input_set(subset_input, _HB_SUBSET_SETS_LAYOUT_FEATURE_TAG)
        )
        cut = hb_subset.hb_subset_or_fail(face, subset_input)
        if cut == ffi.NULL:
            raise OSError(f"HarfBuzz could not subset {path}")
        try:
            out = hb.hb_face_reference_blob(cut)
            length = ffi.new("unsigned int *")
            data = hb.hb_blob_get_data(out, length)
            content = bytes(ffi.buffer(data, length[0]))
            hb.hb_blob_destroy(out)
        finally:
            hb.hb_face_destroy(cut)
    finally:
        hb_subset.hb_subset_input_destroy(subset_input)
        hb.hb_face_destroy(face)
        hb.hb_blob_destroy(blob)
    if not content:
        raise OSError(f"HarfBuzz produced an empty font from {path}")
    return content


@cache
def _letter_font() -> bytes | None:
    source = source_font()
    if source is None:
        logger.warning(
            "%s is not installed: letters use whatever Chinese font fontconfig finds, slowly.",
            SOURCE_FAMILY,
        )
        return None
    try:
        return font_cut(*source)
    except (OSError, AttributeError, ImportError) as exc:
        logger.warning(
            "Could not cut the letter font from %s (%s): letters are slower.", source, exc
        )
        return None


def letter_font() -> bytes | None:
    """The letters' font (OpenType CFF), cut once per process; None when it cannot be made."""
    with _lock:
        return _letter_font()
