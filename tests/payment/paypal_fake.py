"""A scripted PayPal for httpx.MockTransport: answers per (method, path), issues OAuth tokens, checks that every
API call carries the current one, and keeps every request it saw."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.payment import paypal_shapes as shapes

Answer = tuple[int, dict] | Exception | Callable[[httpx.Request], httpx.Response]


class FakePayPal:
    def __init__(self, client_id: str = "id", secret: str = "secret") -> None:
        self.basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []
        self.tokens_issued: list[str] = []
        self.expires_in = 32400
        self.revoked: set[str] = set()
        self.transport = httpx.MockTransport(self)

    def on(self, method: str, path: str, *answers: Answer) -> FakePayPal:
        """Answers in turn; the last one repeats."""
        self.routes[(method, path)] = list(answers)
        return self

    def verify(self, status: str = "SUCCESS") -> FakePayPal:
        return self.on("POST", "/v1/notifications/verify-webhook-signature", (200, {"verification_status": status}))

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.url.path == path)]

    def api_calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests if r.url.path != "/v1/oauth2/token"]

    @staticmethod
    def body(request: httpx.Request) -> Any:
        return json.loads(request.content)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/oauth2/token":
            if request.headers.get("authorization") != self.basic or request.content != b"grant_type=client_credentials":
                return httpx.Response(401, json={"error": "invalid_client",
                                                 "error_description": "Client Authentication failed"})
            self.tokens_issued.append(f"A21AA-token-{len(self.tokens_issued) + 1}")
            return httpx.Response(200, json=shapes.token(self.tokens_issued[-1], self.expires_in))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self.tokens_issued or bearer not in self.tokens_issued or bearer in self.revoked:
            return httpx.Response(401, json=shapes.INVALID_TOKEN)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json=shapes.NOT_FOUND)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        status, body = answer
        return httpx.Response(status, json=body)
