"""Provisioning commands per second to a real osmo-hlr (tests/network/hlr.py starts Debian's, with its own SQLite
database in the temporary directory: `TMPDIR=/dev/shm` puts it in memory), through simkeep's adapter, against bare
CTRL client loops in the same run.

Ours: what the worker pays for one command, `OsmoHlr.apply(Held)`: it reads the subscriber (CTRL `info`), then
changes what differs. Measured for a new line (create + number), a suspension and a renewal (cs+ps → none → cs+ps:
the mode through the VTY, which also tells the serving network; and over CTRL only, two flag SETs), a command that
finds its state already held (a resend), a suspended line taken back (delete), and the drift check's pipelined reads
(`read_many`), also over 100,000 subscribers in the check's batches of 500.

Baselines, bare CTRL loops one request per round trip on one connection (the worker's request/reply discipline): the
least a client can do per command, one `SET subscriber.by-imsi-X.cs-enabled` that changes the flag (0, then 1 again:
osmo-hlr skips the write when a flag already holds the value); the same three requests the CTRL-only adapter sends
for a mode change (`GET …info`, `SET …cs-enabled`, `SET …ps-enabled`), which isolates the adapter's own cost; and
one `GET …info` per read.

One client at a time (osmo-hlr serves its clients in one thread). The machine is shared, so what is compared runs
interleaved, in ROUNDS rounds, and each figure is its best round (every round leaves the subscribers as it found
them: cs+ps with their number)."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.network.hlr import OsmoHlrPeer, Subscriber, ctrl_exchange

from bench.common import Sizes, note, report
from simkeep.network.adapters import Held
from simkeep.network.adapters.osmo_hlr import OsmoHlr
from simkeep.network.models import ABSENT, CS, CS_PS, NONE

ROUNDS = 3
DRIFT_BATCH = 500


def bench_network_hlr(sizes: Sizes) -> None:
    count, drift_count = (1_000, 20_000) if sizes.label == "quick" else (2_000, 100_000)
    imsis = [f"00101{n:010d}" for n in range(1, count + 1)]
    numbers = {imsi: f"+3361{n:07d}" for n, imsi in enumerate(imsis)}
    with tempfile.TemporaryDirectory(prefix="simkeep-hlr-") as tmp:
        (Path(tmp) / "hlr").mkdir()
        peer = OsmoHlrPeer(Path(tmp) / "hlr")
        try:
            peer.start()
            rates = _commands(peer, imsis, numbers)
            rates |= _drift_reads(peer, drift_count)
        finally:
            peer.close()
    note(f"network_hlr: {count} subscribers per phase, {drift_count} for the drift reads, best of {ROUNDS} rounds")
    for name, rate in rates.items():
        report(f"hlr_{name}_per_s", round(rate), "reads/s" if "read" in name or "get" in name else "commands/s")
    report("hlr_apply_ratio", round(rates["apply_mode_vty"] / rates["raw_ctrl_set"], 2),
           "x (adapter apply with a mode change / bare CTRL SET)")
    report("hlr_apply_overhead_ratio", round(rates["apply_mode_ctrl"] / rates["raw_ctrl_mode"], 2),
           "x (adapter apply over CTRL / a bare loop sending the same three requests)")
    report("hlr_read_ratio", round(rates["read_many"] / rates["raw_ctrl_get"], 2),
           "x (pipelined read_many / bare CTRL GET loop)")
    report("hlr_drift_read_ratio", round(rates["drift_read_many"] / rates["drift_raw_get"], 2),
           f"x (the drift check's reads, read_many in batches of {DRIFT_BATCH} / bare CTRL GET loop)")


def _commands(peer: OsmoHlrPeer, imsis: list[str], numbers: dict[str, str]) -> dict[str, float]:
    adapter, ctrl_only = OsmoHlr.from_url(peer.url), OsmoHlr.from_url(peer.url.split("?")[0])
    flips = [("SET", f"subscriber.by-imsi-{imsi}.cs-enabled", flag) for flag in "01" for imsi in imsis]
    same_as_ctrl_only = [(verb, f"subscriber.by-imsi-{imsi}.{variable}", argument)
                         for flag in "01" for imsi in imsis
                         for verb, variable, argument in (("GET", "info", None), ("SET", "cs-enabled", flag),
                                                          ("SET", "ps-enabled", flag))]
    reads = [("GET", f"subscriber.by-imsi-{imsi}.info", None) for imsi in imsis]
    best: dict[str, float] = {}
    try:
        _keep_best(best, "apply_create", _rate(imsis, lambda imsi: adapter.apply(Held(imsi, numbers[imsi], CS_PS))))
        for _ in range(ROUNDS):
            _keep_best(best, "apply_mode_vty", _rate(imsis * 2, _toggling(adapter, numbers)))
            _keep_best(best, "apply_mode_ctrl", _rate(imsis * 2, _toggling(ctrl_only, numbers)))
            _keep_best(best, "raw_ctrl_mode", 2 * len(imsis) / _raw_loop(peer, same_as_ctrl_only))
            _keep_best(best, "raw_ctrl_set", len(flips) / _raw_loop(peer, flips))
            _keep_best(best, "apply_unchanged",
                       _rate(imsis, lambda imsi: adapter.apply(Held(imsi, numbers[imsi], CS_PS))))
            started = time.perf_counter()
            held = adapter.read_many(imsis)
            _keep_best(best, "read_many", len(imsis) / (time.perf_counter() - started))
            assert held == {imsi: Held(imsi, numbers[imsi], CS_PS) for imsi in imsis}, "the HLR holds other states"
            _keep_best(best, "raw_ctrl_get", len(imsis) / _raw_loop(peer, reads))
        for imsi in imsis:  # lines are taken back once suspended
            adapter.apply(Held(imsi, numbers[imsi], NONE))
        _keep_best(best, "apply_delete", _rate(imsis, lambda imsi: adapter.apply(Held(imsi, None, ABSENT))))
        assert peer.imsis() == [], "subscribers left after the deletes"
    finally:
        adapter.close()
        ctrl_only.close()
    return best


def _drift_reads(peer: OsmoHlrPeer, count: int) -> dict[str, float]:
    """The HLR side of a drift check over `count` lines: what it holds for each line's IMSI, read in the check's
    batches with `read_many`, one `read` at a time, and by the bare GET loop. The subscribers are written straight
    into the stopped HLR's database (creating 100,000 over CTRL would take minutes)."""
    imsis = [f"00102{n:010d}" for n in range(count)]
    peer.stop()
    peer.seed(Subscriber(imsi, f"3362{n:07d}", cs=n % 3 != 0, ps=n % 3 == 2) for n, imsi in enumerate(imsis))
    peer.start()
    adapter = OsmoHlr.from_url(peer.url)
    reads = [("GET", f"subscriber.by-imsi-{imsi}.info", None) for imsi in imsis]
    best: dict[str, float] = {}
    try:
        for _ in range(ROUNDS):
            started = time.perf_counter()
            held: dict[str, Held] = {}
            for start in range(0, count, DRIFT_BATCH):
                held |= adapter.read_many(imsis[start:start + DRIFT_BATCH])
            _keep_best(best, "drift_read_many", count / (time.perf_counter() - started))
            assert held[imsis[4]] == Held(imsis[4], "+33620000004", CS), "the HLR holds other states"
            _keep_best(best, "drift_read_one_by_one", _rate(imsis, adapter.read))
            _keep_best(best, "drift_raw_get", count / _raw_loop(peer, reads))
    finally:
        adapter.close()
    return best


def _keep_best(best: dict[str, float], name: str, rate: float) -> None:
    best[name] = max(rate, best.get(name, 0.0))


def _toggling(adapter: OsmoHlr, numbers: dict[str, str]) -> Callable[[str], None]:
    """Each IMSI's first call bars it (a suspension), its second gives access back (a renewal)."""
    barred: set[str] = set()

    def apply(imsi: str) -> None:
        if imsi in barred:
            barred.discard(imsi)
            adapter.apply(Held(imsi, numbers[imsi], CS_PS))
        else:
            barred.add(imsi)
            adapter.apply(Held(imsi, numbers[imsi], NONE))
    return apply


def _rate(imsis: list[str], command: Callable[[str], object]) -> float:
    started = time.perf_counter()
    for imsi in imsis:
        command(imsi)
    return len(imsis) / (time.perf_counter() - started)


def _raw_loop(peer: OsmoHlrPeer, requests: list[tuple[str, str, str | None]]) -> float:
    """Seconds for one request per round trip on one connection, in order: (verb, variable, value)."""
    with socket.create_connection((peer.address, peer.ctrl_port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        for request_id, (verb, variable, value) in enumerate(requests, 1):
            reply = ctrl_exchange(sock, request_id, verb, variable, value)
            if reply.startswith("ERROR"):
                raise RuntimeError(f"osmo-hlr refused the baseline's request: {reply}")
        return time.perf_counter() - started
