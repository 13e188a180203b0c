"""FastAPI 0.163 prepares each route lazily, per app, on the first request that walks past it: the endpoint's
signature, each parameter's pydantic field and the response field, about 1 s of CPU for simkeep's ~350 routes. The
suite builds an app for most tests (the `client`, `portal` and `live_server` fixtures), so that cost was paid a
thousand times per run. Those three steps are pure functions of objects that live as long as the process (the
endpoint functions, their annotations and defaults), so the test process memoises them; the per-app parts (the
dependency tree each route mutates, the request handler, dependency overrides) are still built per app.
Production builds one app per process and is untouched."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils as dependency_utils
import fastapi.routing as routing
import fastapi.utils as utils


def install() -> None:
    dependency_utils.get_typed_signature = _memoised(dependency_utils.get_typed_signature, _by_call)
    dependency_utils.analyze_param = _memoised(dependency_utils.analyze_param, _by_parameter)
    routing.create_model_field = utils.create_model_field = _memoised(utils.create_model_field, _by_response_type)


def _memoised(function: Callable, key: Callable) -> Callable:
    results: dict = {}

    @functools.wraps(function)
    def memoised(*args: Any, **kwargs: Any) -> Any:
        try:
            found = results.get(k := key(*args, **kwargs))
        except TypeError:  # an unhashable callable, or a call this memo does not cover
            return function(*args, **kwargs)
        if found is None:
            # The arguments are kept with the result: the ids in the key stay theirs while the process lives.
            found = results[k] = (function(*args, **kwargs), args, kwargs)
        return found[0]
    return memoised


def _by_call(call: Callable) -> Callable:
    return call


def _by_parameter(*, param_name: str, annotation: Any, value: Any, path_param_names: set[str]) -> tuple:
    return param_name, id(annotation), id(value), frozenset(path_param_names)


def _by_response_type(name: str, type_: Any, default: Any = utils.Undefined, field_info: Any = None,
                      alias: str | None = None, mode: str = "validation") -> tuple:
    if field_info is not None:  # a parameter's field: analyze_param's memo covers it
        raise TypeError
    return name, id(type_), id(default), alias, mode
