"""localstripe (PyPI), a fake Stripe API server, run in a subprocess for the Stripe adapter's tests.

`python -m tests.payment.stripe_localstripe PORT` serves localstripe on 127.0.0.1:PORT only. Upstream's
`localstripe --port N` listens on every interface ('::') and pickles its whole store to the fixed path
/tmp/localstripe.pickle after every write (and reloads it at start): two test runs at once would share and clobber
it. Here the store lives in memory only and dies with the process.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalStripe:
    """localstripe in a subprocess on 127.0.0.1:<free port>; `url` is what settings.stripe_api_base takes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> LocalStripe:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.payment.stripe_localstripe", str(self.port)],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited: {self.process.stderr.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/js.stripe.com/v3/", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("localstripe did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """localstripe signs and POSTs its events (payment_intent.succeeded / payment_failed) to `url`, 1 s later."""
        response = httpx.post(f"{self.url}/_config/webhooks/simkeep", data={"url": url, "secret": secret})
        response.raise_for_status()


def main(port: int) -> None:
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
