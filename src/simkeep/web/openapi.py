"""What OpenAPI says about errors: the {"error": {"code", "message"}} shape and, per route, which statuses and codes
it may answer; the Idempotency-Key header as required, with its rule."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

IDEMPOTENCY_PATTERN = r"^[\x20-\x7E]{1,255}$"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. "fields" on a validation error, "retry_after" on a 429

    code: str = Field(description="stable snake_case code; branch on it, not on the message")
    message: str = Field(description="for people; may change")


class ErrorOut(BaseModel):
    error: ErrorDetail


# The statuses every authenticated API route may answer, and what each code means there.
COMMON = {
    401: "`unauthorized`: no bearer token, or a wrong one",
    403: "`forbidden`: this token's role may not call this route",
    422: "`validation_error` (the `fields` list names each bad parameter) or a domain refusal such as `invalid_msisdn`",
    429: "`rate_limited`: too many wrong bearer tokens from this address (every token is refused until the "
         "`Retry-After` seconds have passed)",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


def errors(extra: dict[int, str] | None = None, *, authenticated: bool = True, body: bool = False) -> dict:
    """`responses=` for a route: the common errors, plus `extra` ({status: "codes and meaning"}); `body` adds the
    malformed-JSON and oversized-body answers."""
    described: dict[int, str] = dict(COMMON) if authenticated else {422: COMMON[422]}
    if body:
        described[400] = "`malformed_json`: the body is not JSON"
        described[413] = "`body_too_large`: the body is over the limit (64 KiB); nothing was read further"
    for status, text in (extra or {}).items():
        described[status] = f"{described[status]}; {text}" if status in described and status != 404 else text
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted(described):
        responses[status] = {"model": ErrorOut, "description": described[status]}
        if status == 429:
            responses[status]["headers"] = RETRY_AFTER
    return responses


class App(FastAPI):
    """The application, whose schema is the one FastAPI generates with the Idempotency-Key header marked required
    (the dependency still answers 400 `idempotency_key_missing` itself, a clearer message than a generic
    validation error). Built on first use, once all routes are in."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = get_openapi(title=self.title, version=self.version, description=self.description,
                                   routes=self.routes)
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []):
                        if parameter.get("in") == "header" and parameter.get("name") == "idempotency-key":
                            parameter["required"] = True
                            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 255,
                                                   "pattern": IDEMPOTENCY_PATTERN, "title": "Idempotency-Key"}
            self.openapi_schema = document
        return self.openapi_schema
