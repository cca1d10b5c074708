"""A journal file that never becomes unreadable: Optuna's ``JournalFileBackend`` behind a
guard (used by :func:`moo_cosearch.storage.open_storage` for ``journal:PATH``).

Optuna's file backend appends one JSON record per line and, reading, skips a last line that
is cut short. Three things break such a file for good, and the guard handles each:

- **a last line cut short** (a crash mid-append, a full disk, a copy cut short): Optuna skips
  it but the next append lands after it, so the break ends up mid-file and no reader opens the
  file again. The guard, holding the journal's lock, sets the partial line aside (its bytes
  go to ``PATH.<offset>.corrupt``, one warning names the file and byte offset) before
  anything is appended; a last record that only lacks its line end gets it back;
- **a full disk while appending**: the bytes written before the error are cut off again, so
  the file ends on a whole record, and the error is one line, ``no space left on PATH``;
- **a corrupt line mid-file** (a file edited or damaged by hand): one line naming the file
  and line, with the command that salvages every record before it.

Only public Optuna API is used: ``BaseJournalBackend``, ``JournalFileBackend`` for reading
and ``JournalFileSymlinkLock`` (the lock Optuna's own backend takes, so both exclude each
other).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shlex
from typing import Any, Iterable

from optuna.storages.journal import (BaseJournalBackend, JournalFileBackend,
                                     JournalFileSymlinkLock)

__all__ = ["GuardedJournalBackend", "JournalCorrupt", "JournalWriteError", "NO_SPACE_ERRNOS",
           "no_space"]

_log = logging.getLogger("moo_cosearch.storage")

#: write errors that mean "the disk (or this process's file-size limit, or quota) is full"
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
_TAIL_CHUNK = 1 << 16


class JournalWriteError(OSError):
    """An append that failed (nothing of it stays in the file): one line, e.g. ``no space
    left on PATH``."""

    def __str__(self) -> str:
        return str(self.strerror)


class JournalCorrupt(ValueError):
    """A journal file with a damaged record before its last line: one line naming the file
    and line, with the command that salvages the records before it."""


def no_space(path: str) -> str:
    """The one-line message of a full disk."""
    return f"no space left on {path}"


def _last_line_start(f: Any, size: int) -> int:
    """Byte offset where the last line (the bytes after the last ``\\n`` but one, when the
    file ends with ``\\n``) starts."""
    end = size - 1 if size else 0          # a final "\n" ends the last line, it does not start one
    pos = end
    while pos > 0:
        start = max(0, pos - _TAIL_CHUNK)
        f.seek(start)
        chunk = f.read(pos - start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:                     # JSONDecodeError, UnicodeDecodeError
        return False


def repair_tail(path: str) -> None:
    """Make ``path`` end on a whole record (call with the journal's lock held): a last line
    cut short is moved to ``PATH.<offset>.corrupt`` and cut off; a whole last record that
    lacks its ``\\n`` gets it."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        start = _last_line_start(f, size)
        f.seek(start)
        tail = f.read()
        if tail.endswith(b"\n") and _is_record(tail):
            return
        if not tail.endswith(b"\n") and _is_record(tail):
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
            _log.warning("journal %s: the last record lacked its line end (a write cut "
                         "short); restored", path)
            return
        copy = f"{path}.{start}.corrupt"
        try:
            with open(copy, "wb") as c:
                c.write(tail)
            kept = f"set aside in {copy}"
        except OSError as e:
            kept = f"dropped (no copy: {e.strerror or e})"
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    _log.warning("journal %s: the last line (%d bytes from byte %d) was cut short by a crash, "
                 "a full disk or a partial copy; %s, every record before it is kept",
                 path, len(tail), start, kept)


def _needs_repair(path: str) -> bool:
    """Whether the file's last line is not a whole record (read without the lock)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        start = _last_line_start(f, size)
        f.seek(start)
        tail = f.read()
    return not (tail.endswith(b"\n") and _is_record(tail))


def find_corrupt_line(path: str) -> tuple[int, str] | None:
    """The first line (1-based) of ``path`` that is not a JSON record, and why; None if
    every line is one."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                value = json.loads(line)
            except UnicodeDecodeError:
                return number, "not UTF-8 text"
            except json.JSONDecodeError as e:
                return number, f"malformed JSON: {e.msg} at column {e.colno}"
            if not isinstance(value, dict):
                return number, f"a JSON {type(value).__name__}, not a record"
    return None


def corrupt_error(path: str, fallback: BaseException | None = None) -> JournalCorrupt:
    """The one-line error for a journal Optuna cannot replay."""
    found = find_corrupt_line(path)
    if found is None:
        why = f"{type(fallback).__name__}: {fallback}" if fallback is not None else "unknown"
        return JournalCorrupt(f"journal {path} cannot be replayed ({why})")
    line, why = found
    quoted = shlex.quote(path)
    return JournalCorrupt(
        f"journal {path} line {line} is damaged ({why}); the {line - 1} records before it "
        f"can be salvaged into a new journal with: head -n {line - 1} {quoted} > "
        f"{shlex.quote(path + '.salvaged')}")


class GuardedJournalBackend(BaseJournalBackend):
    """Optuna's ``JournalFileBackend`` that repairs a cut-short last line before anything is
    appended, appends whole records or nothing, and names the file in its errors."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._reader = JournalFileBackend(path)
        self._lock = JournalFileSymlinkLock(path)
        if _needs_repair(path):
            self._locked(lambda: repair_tail(path))

    def _locked(self, action: Any) -> Any:
        self._lock.acquire()
        try:
            return action()
        finally:
            self._lock.release()

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        try:
            yield from self._reader.read_logs(log_number_from)
        except ValueError as e:          # a damaged line followed by others
            raise corrupt_error(self._path, e) from None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        self._locked(lambda: self._append(data.encode("utf-8")))

    def _append(self, data: bytes) -> None:
        if _needs_repair(self._path):      # another process died mid-append
            repair_tail(self._path)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            try:                           # whole records or none: cut the partial write off
                os.ftruncate(fd, size)
            except OSError:
                pass                       # the next open sets the partial line aside
            if e.errno in NO_SPACE_ERRNOS:
                raise JournalWriteError(e.errno, no_space(self._path)) from None
            raise JournalWriteError(e.errno, f"cannot write {self._path}: "
                                             f"{e.strerror or e}") from None
        finally:
            os.close(fd)
