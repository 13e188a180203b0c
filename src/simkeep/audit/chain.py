"""The audit log's hash chain: how one entry is serialised and hashed. Pure functions, no database.

Each entry's hash is SHA-256 over a canonical JSON array: a version tag, then seq, id, at (UTC, microseconds),
actor, action, subject type and id, reason, details and the previous entry's hash. JSON makes the boundaries
between fields unambiguous (no "a|b" + "c" == "a" + "b|c"); sorted keys and fixed separators make details hash
the same whatever order PostgreSQL's JSONB gives them back in. A new serialisation gets a new version tag and the
old one stays here, so entries written under it still verify.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

VERSION = "simkeep.audit/1"
GENESIS = "0" * 64  # the first entry's previous hash


def canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details as the database gives them back: integral floats as integers (JSONB prints 1e20 as
    100000000000000000000, which reads back as an int). NaN, infinities and non-JSON values are refused by
    `serialise` (ValueError, TypeError), which `record` runs before anything is written."""
    return _normal(details)


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): _normal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    return value


def instant(at: datetime) -> str:
    """An instant as the chain writes it: UTC, always with microseconds (what both databases keep)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def serialise(*, seq: int, id: uuid.UUID, at: datetime, actor: str, action: str, subject_type: str,
              subject_id: str, reason: str, details: dict[str, Any], prev_hash: str) -> str:
    """The text an entry's hash covers (an auditor can rebuild it from `simkeep audit export`)."""
    fields = [VERSION, seq, str(id), instant(at), actor, action, subject_type, subject_id, reason,
              canonical_details(details), prev_hash]
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def entry_hash(**content: Any) -> str:
    """SHA-256 (hex) of serialise(**content)."""
    return hashlib.sha256(serialise(**content).encode("utf-8")).hexdigest()
