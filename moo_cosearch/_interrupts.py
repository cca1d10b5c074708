"""Interrupts (Ctrl-C, SIGTERM) that never land inside a storage call.

Python raises ``KeyboardInterrupt`` at whatever bytecode the main thread is running. Inside
a storage call that can be SQLAlchemy returning a connection to its pool (an open write
transaction then keeps an SQLite file locked, and every later write, the closing of the
interrupted trials included, waits out the 60 s lock timeout), SQLAlchemy importing one of
its modules lazily (the half-made module then breaks every later query of the process), or
a journal append. The CLI's handlers (:func:`install`) therefore hold an interrupt that
arrives while the main thread is inside a method of a storage opened by
:func:`~moo_cosearch.storage.open_storage` (:func:`shield`) until that call returns, and
raise it there; a second interrupt while one is held is raised at once (a storage call
waiting on a lock can still be left with a second Ctrl-C).

Only the main thread is held: signals are delivered to it alone, and the heartbeat threads'
storage calls run as they are. Without :func:`install` (a library user with Python's own
Ctrl-C handler) a shielded storage behaves exactly like its class.
"""

from __future__ import annotations

import functools
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["held", "install", "interrupt", "shield"]


class _State:
    installed = False
    depth = 0             # storage calls the main thread is inside
    held = False          # an interrupt arrived inside one


def interrupt(signum: int = signal.SIGINT, frame: Any = None) -> None:
    """A signal handler: ``KeyboardInterrupt`` now, or when the storage call the main thread
    is inside returns."""
    if _State.depth and not _State.held:
        _State.held = True
        return
    _State.held = False
    raise KeyboardInterrupt


def install(on_signal: Callable[[], None] | None = None) -> None:
    """Handle Ctrl-C (unless it is ignored, as in a background job) and SIGTERM with
    :func:`interrupt`, ``on_signal`` first (e.g. setting an event that stops the workers even
    where a library absorbs the ``KeyboardInterrupt``: Python drops one raised in a garbage
    collector's callback). Main thread only."""
    def handler(signum: int, frame: Any) -> None:
        if on_signal is not None:
            on_signal()
        interrupt(signum, frame)

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    _State.installed = True


@contextmanager
def held() -> Iterator[None]:
    """A block an interrupt of the main thread does not enter: one that arrives is raised when
    the block ends (e.g. asking a trial and recording that it was asked)."""
    if not _State.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
        if _State.depth == 0 and _State.held:
            _State.held = False
            raise KeyboardInterrupt


def _held(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with held():
            return method(*args, **kwargs)
    return call


_SHIELDED: dict[type, type] = {}


def _restore(base: type, state: Any) -> Any:
    obj = base.__new__(base)
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
    else:
        obj.__dict__.update(state)
    return shield(obj)


def _shielded_class(base: type) -> type:
    if base not in _SHIELDED:
        methods: dict[str, Any] = {}
        for klass in reversed(base.__mro__[:-1]):          # the nearest definition wins
            for name, value in vars(klass).items():
                if callable(value) and not name.startswith("__") and not isinstance(
                        value, (staticmethod, classmethod, type)):
                    methods[name] = _held(value)

        def __reduce__(self: Any) -> Any:     # pickles as the plain class, shielded again
            return _restore, (base, self.__getstate__())

        methods["__reduce__"] = __reduce__
        _SHIELDED[base] = type(f"Shielded{base.__name__}", (base,), methods)
    return _SHIELDED[base]


def shield(storage: Any) -> Any:
    """``storage`` itself, its every method (Optuna's cache calls private ones) holding an
    interrupt of the main thread until it returns. Still an instance of its class."""
    if type(storage) not in _SHIELDED.values():
        storage.__class__ = _shielded_class(type(storage))
    return storage
