"""Refuse oversized request bodies before any route runs (an ASGI middleware, so nothing is parsed).

A path may get a larger limit, optionally only when a predicate on the request says so (the bank statement
upload: only for a live staff session whose role may import; an anonymous caller keeps the normal limit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

Predicate = Callable[[dict], Awaitable[bool]]


class BodyLimit:
    def __init__(self, app, max_bytes: int, exceptions: dict[str, int | tuple[int, Predicate]] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exceptions = exceptions or {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        limit = await self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._refuse(send, limit)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await self._refuse(send, limit)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _limit(self, scope) -> int:
        exception = self.exceptions.get(scope["path"])
        if exception is None:
            return self.max_bytes
        if isinstance(exception, int):
            return exception
        larger, allowed = exception
        return larger if await allowed(scope) else self.max_bytes

    async def _refuse(self, send, limit: int) -> None:
        payload = orjson.dumps({"error": {"code": "body_too_large",
                                          "message": f"Request bodies are limited to {limit} bytes."}})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
