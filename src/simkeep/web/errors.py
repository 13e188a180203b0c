"""Every error leaves as {"error": {"code", "message"}} with a stable code; nothing unexpected becomes a 500
with a traceback."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from simkeep.core.errors import SimkeepError

log = structlog.get_logger()
HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              413: "body_too_large", 415: "unsupported_media_type"}


def error_response(status: int, code: str, message: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(SimkeepError)
    async def _domain(request: Request, exc: SimkeepError):
        response: Response
        if _is_page(request):
            from simkeep.web.pages import error_text, language, render

            response = render(request, "portal/error.html", status=exc.status,
                              error=error_text(language(request), exc.code))
        else:
            response = error_response(exc.status, exc.code, exc.message, None, **exc.details)
        if "retry_after" in exc.details:  # a 429 says when to come back
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if _is_page(request):  # a hostile or truncated link to a page: a page that says so, not JSON
            from simkeep.web.pages import error_text, language, render

            return render(request, "portal/error.html", status=422,
                          error=error_text(language(request), "validation_error"))
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        fields = [_describe(err) for err in errors]
        return error_response(422, "validation_error", "; ".join(fields), fields=fields)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        if exc.status_code == 400:  # FastAPI could not parse the body: not UTF-8, or nested too deep
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        code = HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method some route takes on this path, not only the first route's
            headers["Allow"] = allowed_methods(request)
        if _is_page(request) and exc.status_code in (404, 405):
            from simkeep.web.pages import error_text, language, render

            response = render(request, "portal/error.html", status=exc.status_code,
                              error=error_text(language(request), code), missing=exc.status_code == 404)
            response.headers.update(headers)
            return response
        return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("request.failed", path=request.url.path)
        if _is_page(request):
            from simkeep.web.pages import error_text, language, render

            return render(request, "portal/error.html", status=500, error=error_text(language(request), "internal"))
        return error_response(500, "internal_error", "Something went wrong on our side; nothing was charged twice.")


METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Each method for which some route fully matches this path (routers nest, so ask them rather than look)."""
    scope = {k: v for k, v in request.scope.items() if k not in ("route", "endpoint", "path_params")}
    allowed = [method for method in METHOD_ORDER
               if any(route.matches({**scope, "method": method})[0] == Match.FULL
                      for route in request.app.router.routes)]
    return ", ".join(allowed)


def _is_page(request: Request) -> bool:
    """People's pages get a translated HTML error; API and webhook clients get JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics", "/openapi", "/docs", "/voice/"))


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg
