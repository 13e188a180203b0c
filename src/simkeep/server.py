"""uvicorn, optionally as several processes sharing one port with SO_REUSEPORT: the kernel spreads
keep-alive connections across them, which `uvicorn --workers` did not (DESIGN §6)."""

from __future__ import annotations

import multiprocessing
import socket

import uvicorn

from simkeep.config import Settings


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _serve_one(host: str, port: int) -> None:
    config = uvicorn.Config("simkeep.main:app_factory", factory=True, host=host, port=port,
                            access_log=False, log_level="warning", backlog=2048)
    uvicorn.Server(config).run(sockets=[_bind(host, port)])


def serve(settings: Settings, *, workers: int = 1) -> None:
    if workers <= 1:
        _serve_one(settings.host, settings.port)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_serve_one, args=(settings.host, settings.port)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
