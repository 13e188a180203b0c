"""One guard for every page: control characters in a path, a query or a form field are refused before any handler
runs. PostgreSQL refuses a NUL in text (a 500 there, while SQLite stored it), and no person types one; tabs and
line breaks stay allowed in forms (a reason, a message template). The JSON API parses its own input into bounded
types (line/schemas.py RequestBody and each route's parameters), so it is left to them."""

from __future__ import annotations

import re

from fastapi import Request

from simkeep.core.errors import SimkeepError
from simkeep.web.sessions import MACHINE_PATHS

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class UnreadableInput(SimkeepError):
    code, status, message = "validation_error", 422, "The request contains control characters."


async def refuse_control_characters(request: Request) -> None:
    if request.url.path.startswith(MACHINE_PATHS):
        return
    if _CONTROL.search(request.scope["path"]) or any(
            _CONTROL.search(key) or _CONTROL.search(value) for key, value in request.query_params.multi_items()):
        raise UnreadableInput()
    if request.method == "POST" and request.headers.get("content-type", "").startswith(_FORMS):
        form = await request.form()
        for key, value in form.multi_items():
            if _CONTROL.search(key) or (isinstance(value, str) and _CONTROL.search(value)):
                raise UnreadableInput()
