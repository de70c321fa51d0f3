"""Verification codes: ten characters a person can read out or type from paper."""

from __future__ import annotations

import secrets

# No 0/O, 1/I/L: a code read out over the phone or typed from paper stays unambiguous.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def verification_code_new() -> str:
    """A random code (31^10, about 8 * 10^14 possibilities)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def verification_code_normalise(code: str) -> str | None:
    """The code as stored, from what a person typed (any case, with or without the dash)."""
    cleaned = "".join((code or "").split()).replace("-", "").upper()
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned
