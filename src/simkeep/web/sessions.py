"""Cookie sessions for people's pages only: API and webhook calls carry no cookie and need none."""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware

MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/openapi.json")


class PageSessions(SessionMiddleware):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(MACHINE_PATHS):
            return await self.app(scope, receive, send)
        return await super().__call__(scope, receive, send)
