"""Signed HTTP webhooks (timestamp + HMAC-SHA256 over the exact body), as the sandbox provider sends them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from simkeep.core.signing import sign
from simkeep.notification.senders.base import Outgoing, PermanentFailure, Sent, TemporaryFailure

SIGNATURE_HEADER = "Simkeep-Signature"


class WebhookSender:
    """`secret_for(message)` gives the key to sign with: the receiving endpoint's own secret."""

    def __init__(self, secret_for: Callable[[Outgoing], str | None], timeout: float = 10.0) -> None:
        self.secret_for = secret_for
        self.client = httpx.Client(timeout=timeout)

    def send(self, message: Outgoing) -> Sent:
        secret = self.secret_for(message)
        if secret is None:
            raise PermanentFailure(f"no signing secret for {message.recipient}")
        body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(time.time())),
                   "Webhook-Id": str(message.id)}
        try:
            response = self.client.post(message.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TemporaryFailure(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentFailure(f"HTTP {response.status_code}: {response.text[:200]}")
        return Sent(detail=f"HTTP {response.status_code}")
