"""A user's own accuracy function (source ``callable``)."""

from __future__ import annotations

import importlib
from ._registry import AccuracyFn, register_source

__all__ = ["user_callable"]

_HOW = ("pass accuracy=fn to make_objective, or name it in the objective set as "
        "accuracy = {source = \"callable\", function = \"package.module:name\"}")


def _check(function: str | None = None) -> None:
    if function is not None and (not isinstance(function, str) or function.count(":") != 1):
        raise ValueError(f"accuracy function must be 'package.module:name', got {function!r}")


def user_callable(function: str | None = None) -> AccuracyFn:
    """The callable named ``"package.module:name"`` (imported now).

    Raises:
        ValueError: no name given (the callable must then be passed to ``make_objective``), a
            malformed name, or a name that does not import to a callable.
    """
    if function is None:
        raise ValueError(f"accuracy source 'callable' needs the callable itself: {_HOW}")
    _check(function)
    module, _, attr = function.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"accuracy function {function!r} does not import: {e}") from None
    if not callable(fn):
        raise ValueError(f"accuracy function {function!r} is not callable")
    return fn


register_source("callable", user_callable, "your function: make_objective(accuracy=fn) or "
                "function = 'module:name'", check=_check)
