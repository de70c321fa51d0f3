"""The audit signing key: an Ed25519 key in a file outside the database.

It signs each case's chain head and each agency checkpoint (``cases.anchoring``), so
that someone who can write to the database but cannot read this file cannot cut or
rewrite an event chain unnoticed. Auditors check the signatures with the public key
alone, which cannot sign. ``REDRESS_AUDIT_KEY_FILE`` names the file (PKCS#8 PEM,
readable by Redress only); ``manage.py audit_key`` creates it and prints the public key.

A signature is written ``<key id>.<base64url signature>``: the key id (the first 16 hex
digits of the SHA-256 of the raw public key) says which key signed, so a verifier names
a signature made with another key instead of calling it forged.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyUnavailable(ImproperlyConfigured):
    """The signing key file is missing, unreadable or not an Ed25519 private key."""


def key_generate(path: Path) -> Ed25519PublicKey:
    """Write a new private key to ``path`` (mode 0600); refuse to replace an existing file.

    Replacing the key would make every signature made with the old one unverifiable
    with the new public key, so an existing file is never overwritten.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key.public_key()


@lru_cache(maxsize=4)
def key_load(path: str) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyUnavailable(
            f"The audit signing key {path} cannot be read ({exc.strerror}). Create it with "
            "'manage.py audit_key --generate' or set REDRESS_AUDIT_KEY_FILE."
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyUnavailable(
            f"The audit signing key {path} is not an unencrypted PEM private key: {exc}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(f"The audit signing key {path} is not an Ed25519 key.")
    return key


def private_key() -> Ed25519PrivateKey:
    """The configured signing key (read once per process: restart after replacing it)."""
    return key_load(str(settings.REDRESS_AUDIT_KEY_FILE))


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_load(pem: bytes | str) -> Ed25519PublicKey:
    """A public key from PEM; ``ValueError`` naming the problem if it is not Ed25519."""
    if isinstance(pem, str):
        pem = pem.encode("ascii", "replace")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def sign(message: bytes) -> str:
    """Sign ``message`` with the configured key: ``<key id>.<base64url signature>``."""
    key = private_key()
    signature = base64.urlsafe_b64encode(key.sign(message)).decode("ascii").rstrip("=")
    return f"{key_id(key.public_key())}.{signature}"


def signature_problem(key: Ed25519PublicKey, message: bytes, signature: str) -> str | None:
    """Why ``signature`` is not ``key``'s signature of ``message``, or None if it is."""
    if not signature:
        return "it is not signed"
    expected_id, _, encoded = signature.partition(".")
    if expected_id != key_id(key):
        return f"it is signed with another key (key id {expected_id[:16]}, not {key_id(key)})"
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        key.verify(raw, message)
    except (ValueError, InvalidSignature):
        return "its signature does not match: it was changed or forged"
    return None
