"""UUID primary keys come from one function: time-ordered (v7) so B-tree inserts stay local.

Within one process the ids are strictly increasing (RFC 9562 §6.2, method 1: a 12-bit counter in
`rand_a`), so rows written in the same millisecond — an audit entry and the sign-in that follows it —
sort in the order they were made rather than by chance.
"""

import os
import threading
import time
import uuid

_COUNTER_MAX = 0xFFF
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _next_tick() -> tuple[int, int]:
    """This millisecond and a counter that grows within it; borrows the next millisecond when the counter is spent."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(2), "big") & 0x1FF  # room for 3,584 more
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:
            _last_ms, _counter = _last_ms + 1, 0
        return _last_ms, _counter


def new_id() -> uuid.UUID:
    ms, counter = _next_tick()
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
