"""Idempotent requests, one rule for top-ups, charges and refunds: the same key with the same request answers the
first result again and moves nothing; the same key with a different request is refused with 409
`idempotency_key_reused`. Each domain finds its earlier request by key (a UNIQUE constraint makes the key stick);
this module decides what that earlier request means."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from operator import attrgetter
from typing import TypeVar

from simkeep.core.errors import IdempotencyKeyReused

T = TypeVar("T")


def fingerprint(*parts: object) -> str:
    """What identifies a request's parameters, stored beside its key."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def replay(earlier: T | None, request_hash: str, *,
           hash_of: Callable[[T], str] = attrgetter("request_hash")) -> T | None:
    """The earlier result to answer again, or None when the key is new. Raises IdempotencyKeyReused when the key
    was used for a different request. `hash_of` gives the earlier request's fingerprint (a stored column by
    default)."""
    if earlier is None:
        return None
    if hash_of(earlier) != request_hash:
        raise IdempotencyKeyReused()
    return earlier
