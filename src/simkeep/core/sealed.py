"""Secrets at rest (TOTP seeds, e-PINs kept for an idempotent replay): AES-256-GCM under a key derived for the purpose, bound to what they belong to.

Rotation: seal with the current key; open with the current or any previous one (Settings.verifying_keys)."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"


def seal(plaintext: str, *, key: str, context: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(key)).encrypt(nonce, plaintext.encode(), context.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_sealed(value: str, *, keys: list[str], context: str) -> str | None:
    """The plaintext, or None when no key opens it (tampered, another context, or a key retired too early)."""
    if not value.startswith(PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX):])
    except ValueError:
        return None
    for key in keys:
        try:
            return AESGCM(_key(key)).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            continue
    return None


def _key(hex_key: str) -> bytes:
    return bytes.fromhex(hex_key)[:32]
