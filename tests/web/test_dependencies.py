"""Handlers get the database, settings, limits and the staff member through dependencies (DESIGN §7): none reaches
into `request.app.state` itself, so every page and endpoint can be read, tested and overridden the same way."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from simkeep.main import create_app
from tests.web import flatten


def test_no_handler_reaches_into_app_state(settings, db):
    app = create_app(settings, db=db)
    handlers = [route.endpoint for route in flatten(app.routes) if isinstance(route, APIRoute)]
    assert len(handlers) > 40  # every page and endpoint, not an empty list that passes
    reaching = [f"{h.__module__}.{h.__name__}" for h in handlers if "app.state" in inspect.getsource(h)]
    assert reaching == []
