"""The portal's parameters as bounded, validated types, and the route class that answers bad ones (and remembers a
partner's link on any portal page: portal/partner.py).

Every query, path and form value of a portal route is declared with a bound (length, pattern, type); a value
outside it never reaches a handler: `PageRoute` turns FastAPI's validation error (and an unparsable form body)
into the translated error page with a 4xx status, instead of JSON or a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.portal import partner
from simkeep.web import deps
from simkeep.web.pages import error_text, language, render

# Query values: a bounded length, and a pattern where the shape is known.
Next = Annotated[str, Query(max_length=512)]
Text = Annotated[str, Query(max_length=64)]
Notice = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]  # an error code to show
OperatorId = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Flag = Annotated[str | None, Query(max_length=8)]
ProviderToken = Annotated[str | None, Query(max_length=255, pattern=r"^[\x21-\x7e]+$")]
# A number as typed (validated by `msisdn_or_error`, which gives the precise message).
RawNumber = Annotated[str | None, Query(max_length=20_000)]


class PageRoute(APIRoute):
    """A route of people's pages: bad input gets the translated error page, never a JSON body or a 500."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                response = await handler(request)
                if partner.PARAM in request.query_params:  # a partner's link: remember who sent the payer
                    partner.remember(request, response, await deps.settings(request), now=clock.now())
                return response
            except RequestValidationError:
                return _bad_request(request, 422)
            except HTTPException as exc:
                if exc.status_code != 400:  # 400: the form body could not be parsed
                    raise
                return _bad_request(request, 400)

        return route


def _bad_request(request: Request, status: int):
    return render(request, "portal/error.html", status=status, error=error_text(language(request), "bad_request"))


def msisdn_or_error(raw: str | None, region: str) -> str | SimkeepError:
    """E.164, or the error to show (never raises: a typed number is the reader's mistake, not ours)."""
    try:
        return lookup_msisdn((raw or "").strip(), region)
    except SimkeepError as exc:
        return exc


def safe_next(url: str) -> str:
    """Only local paths: a sign-in link must not send people to another site."""
    ok = (url.startswith("/") and not url.startswith("//") and "\\" not in url and len(url) <= 512
          and url.isprintable())
    return url if ok else "/lines"
