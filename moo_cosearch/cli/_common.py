"""What every command of the CLI shares: the one-line error, and how log lines reach the
terminal (the package's notices shown, Optuna's tracebacks of failures reported otherwise
dropped)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

__all__ = ["CLIError"]


class CLIError(Exception):
    """An error shown to the user as one line, exit status 2."""


class _QuietRaisedFailures(logging.Filter):
    """Drops Optuna's "Trial N failed ..." warnings (with a traceback) for an exception that
    ends the run anyway and is reported as one line: an interrupt or a storage write that
    failed (a full disk). Failures of an evaluation never reach Optuna as exceptions (the
    objective marks the trial FAIL itself), so no other warning is lost."""

    def __init__(self, storage: str | None) -> None:
        super().__init__()
        self.storage = storage
        self.trials: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        match = re.match(r"Trial (\d+) failed with ", message)
        if not match:
            return True
        if record.exc_info and record.exc_info[1] is not None:
            from ..storage import write_failure

            error = record.exc_info[1]
            if isinstance(error, KeyboardInterrupt) or write_failure(error, self.storage):
                self.trials.add(match.group(1))
                return False
            return True
        return match.group(1) not in self.trials


class _Stderr(logging.StreamHandler):
    """Our log lines as plain lines on the current ``sys.stderr`` (looked up at each line,
    so a replaced stderr, as under pytest, is followed)."""

    @property            # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _show_notices() -> None:
    """Show the package's notices (a slow first evaluation says what it is doing, a repaired
    journal, a worker waiting for trials) as plain lines on stderr, once per process."""
    log = logging.getLogger("moo_cosearch")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _quiet_raised_failures(storage: str | None) -> None:
    log = logging.getLogger("optuna.study._optimize")     # where Optuna logs failed trials
    for f in [f for f in log.filters if isinstance(f, _QuietRaisedFailures)]:
        log.removeFilter(f)
    log.addFilter(_QuietRaisedFailures(storage))
