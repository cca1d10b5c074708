"""Optuna storages that many workers share safely, opened from one URL.

``open_storage(url)`` accepts:

- any SQLAlchemy URL Optuna's ``RDBStorage`` takes: ``sqlite:///runs/s.db`` (the folder is
  made), ``postgresql://user@host:5432/db`` (driver psycopg 3, the ``postgres`` extra; a
  ``postgresql://`` URL falls back to psycopg2 when only that is installed),
  ``postgresql+psycopg2://...``, ``mysql+pymysql://...``;
- ``journal:PATH`` (e.g. ``journal:runs/s.log`` or ``journal:///abs/s.log``): Optuna's
  ``JournalStorage`` on an append-only file, safe for several processes on one machine (or on
  a file system with working locks);
- ``None`` (or ``":memory:"``): in memory, one process.

What it adds to Optuna's own constructors:

- **Race-free start.** Workers that start together on a fresh database all create the schema
  at once; Optuna's ``RDBStorage`` then fails in some of them (``IntegrityError`` on
  ``alembic_version``, ``UniqueViolation`` on ``pg_type``). Creation is serialised by a file
  lock for SQLite and retried with backoff for server databases, so every worker gets the
  storage. SQLite connections wait up to 60 s for a lock instead of 5 s.
- **Heartbeats on by default** for RDB and journal storages (``heartbeat`` seconds, grace
  period twice that), each trial beating from the moment it is created until it is finished
  (:mod:`moo_cosearch._storage_beats`; Optuna beats only once ``ask`` has returned, and keeps
  no heartbeats for ``JournalStorage``): a killed worker's RUNNING trial becomes FAIL when
  another worker (or the next run) starts a trial, and Optuna's
  ``RetryHeartbeatStaleTrialCallback`` enqueues it again (up to 3 times). With heartbeats
  off (``heartbeat=None``, ``run --heartbeat 0``), ``reap_running`` (``run --reap-running``)
  fails and re-enqueues RUNNING trials when you know no worker is alive.
- **One-line errors** (:class:`StorageError`, a ``ValueError``) naming the URL (password
  hidden) and the cause: an unknown scheme, a missing driver, an unreachable server, a folder
  or a non-SQLite file given as an SQLite database, a read-only location, a missing database
  where one must exist (``must_exist=True``: ``verify``, ``dashboard``).
- **Interrupts between storage calls.** Under the CLI's signal handlers a Ctrl-C or SIGTERM
  that arrives inside a storage call is raised when the call returns
  (:mod:`moo_cosearch._interrupts`): it can no longer leave an SQLite write transaction
  open or SQLAlchemy half-imported, which made closing the interrupted trials wait or fail.
"""

from __future__ import annotations

import re
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from ._interrupts import held, shield
from ._lazy import lazy_getattr

if TYPE_CHECKING:
    import optuna

__all__ = ["BEATING", "DEFAULT_HEARTBEAT_S", "StorageError", "describe", "open_storage",
           "reap_running", "write_failure"]

#: ``BEATING``: the trial system attr written with a trial's first heartbeat (optuna loads on
#: first use of it).
__getattr__ = lazy_getattr("moo_cosearch", {"BEATING": "_storage_beats"})

#: Heartbeat interval of RDB and journal storages, seconds; a trial is stale after twice this.
DEFAULT_HEARTBEAT_S = 30
_RETRIES = 3                     # how often a trial a dead worker held is run again
_SQLITE_HEADER = b"SQLite format 3\x00"
_OPEN_ATTEMPTS = 8


class StorageError(ValueError):
    """A storage that cannot be opened: one line naming the URL and the cause."""


def describe(url: str) -> str:
    """``url`` with its password hidden (for messages and logs)."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _journal(url: str, beats: dict) -> "optuna.storages.BaseStorage":
    from ._storage_beats import BeatingJournalStorage
    from ._storage_journal import GuardedJournalBackend, JournalCorrupt, corrupt_error

    path = Path(re.sub(r"^journal:(//)?", "", url)).expanduser()
    if not str(path) or path.is_dir():
        raise StorageError(f"storage {url}: journal:PATH needs a file path, got {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
        backend = GuardedJournalBackend(str(path))
    except OSError as e:
        raise StorageError(f"storage {url}: cannot write {path}: {e.strerror or e}") from None
    try:
        with held():
            return shield(BeatingJournalStorage(backend, **beats))
    except JournalCorrupt as e:
        raise StorageError(f"storage {url}: {e}") from None
    except (ValueError, KeyError, TypeError, AssertionError) as e:   # a record Optuna rejects
        raise StorageError(f"storage {url}: {corrupt_error(str(path), e)}") from None


def _sqlite_path(url: str, must_exist: bool) -> Path | None:
    """Check the file of an SQLite URL (None for an in-memory database)."""
    rest = url.split("///", 1)[1] if "///" in url else ""
    rest = rest.split("?", 1)[0]
    if rest in ("", ":memory:"):
        return None
    path = Path(rest).expanduser()
    if path.is_dir():
        raise StorageError(f"storage {url}: {path} is a folder, not an SQLite file")
    if path.exists():
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
        if head and head != _SQLITE_HEADER:
            raise StorageError(f"storage {url}: {path} is not an SQLite database")
        if head:
            _check_ours(url, path)
    elif must_exist:
        raise StorageError(f"storage {url}: {path} does not exist")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"storage {url}: cannot make {path.parent}: "
                               f"{e.strerror or e}") from None
    return path


#: tables whose presence marks a database as Optuna's (any schema version)
_OPTUNA_TABLES = frozenset({"studies", "trials", "version_info", "alembic_version"})


def _check_ours(url: str, path: Path) -> None:
    """Refuse an SQLite file that is damaged, or another program's database (tables, none of
    them Optuna's): Optuna would add its tables to it. Read-only; a locked file passes (a
    worker is writing to it, so it is a study database)."""
    import sqlite3

    try:
        uri = path.resolve().as_uri() + "?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=5) as db:
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.close()
    except sqlite3.OperationalError:
        return
    except sqlite3.DatabaseError as e:
        raise StorageError(f"storage {url}: {path} is not a usable SQLite database "
                           f"({e})") from None
    if tables and not tables & _OPTUNA_TABLES:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StorageError(f"storage {url}: {path} is another program's database (tables "
                           f"{shown}; none of Optuna's), refusing to write into it: give a "
                           f"new file or an Optuna storage")


def _driver_url(url: str) -> str:
    """``postgresql://`` names psycopg 3 in SQLAlchemy 2; use psycopg2 when only it exists."""
    import importlib.util

    if not re.match(r"^postgres(ql)?://", url):
        return url
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    raise StorageError(f"storage {describe(url)}: PostgreSQL needs a driver: pip install "
                       f"'moo-cosearch[postgres]' (psycopg 3), with -c constraints.txt in a "
                       f"checkout")


def open_storage(url: "str | optuna.storages.BaseStorage | None", *, must_exist: bool = False,
                 heartbeat: float | None = DEFAULT_HEARTBEAT_S) -> "optuna.storages.BaseStorage":
    """An Optuna storage for ``url`` (see the module docstring); a storage object passes
    through.

    Args:
        url: storage URL, ``journal:PATH``, ``None`` (in memory) or a storage.
        must_exist: refuse to create a new database file (for commands that only read).
        heartbeat: heartbeat interval in seconds for RDB and journal storages (None: off).

    Raises:
        StorageError: one line naming the URL and the cause.
    """
    import math

    import optuna

    if heartbeat is not None and not (isinstance(heartbeat, (int, float))
                                      and math.isfinite(heartbeat) and heartbeat > 0):
        raise StorageError(f"heartbeat must be a finite number of seconds > 0 (0 on the "
                           f"command line: none), got {heartbeat!r}")
    if url is None or url == ":memory:":
        return optuna.storages.InMemoryStorage()
    if not isinstance(url, str):
        return url
    shown = describe(url)
    if url.startswith("journal:"):
        if must_exist and not Path(re.sub(r"^journal:(//)?", "", url)).expanduser().is_file():
            raise StorageError(f"storage {shown}: the journal file does not exist")
        return _journal(url, _heartbeat_kwargs(heartbeat))
    if "://" not in url:
        raise StorageError(f"storage {url!r} is not a URL: use sqlite:///PATH, "
                           f"postgresql://USER@HOST/DB, journal:PATH or another SQLAlchemy URL")
    url = _driver_url(url)
    kwargs: dict = {}
    lock = None
    if url.startswith("sqlite"):
        path = _sqlite_path(url, must_exist)
        if path is None:        # in memory: one process, so no one to take a dead trial over,
            heartbeat = None    # and a heartbeat thread would see an empty database of its own
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        if path is not None:
            from filelock import FileLock

            lock = FileLock(str(path) + ".lock", timeout=120)
    elif url.startswith("postgresql"):
        kwargs["engine_kwargs"] = {"pool_pre_ping": True}
    kwargs.update(_heartbeat_kwargs(heartbeat))
    return _open_rdb(url, shown, kwargs, lock)


def _heartbeat_kwargs(heartbeat: float | None) -> dict:
    """The heartbeat arguments of Optuna's RDBStorage (and of our journal storage)."""
    if heartbeat is None:
        return {}
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback as Retry

    with warnings.catch_warnings():    # experimental since Optuna 2.8, stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = Retry(max_retry=_RETRIES)
    return dict(heartbeat_interval=int(max(1, round(heartbeat))),
                grace_period=int(max(2, round(2 * heartbeat))),
                heartbeat_stale_trial_callback=retry)


def _open_rdb(url: str, shown: str, kwargs: dict, lock) -> "optuna.storages.BaseStorage":
    import optuna
    import sqlalchemy.exc

    from ._storage_beats import BeatingRDBStorage

    last: BaseException | None = None
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():   # heartbeat_interval: experimental, stable in use
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                with lock or nullcontext(), held():    # schema creation: not interrupted
                    return shield(BeatingRDBStorage(url, **kwargs))
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as e:
            last = e            # another worker is creating the schema: try again
        except sqlalchemy.exc.OperationalError as e:
            last = e
            text = _first_line(e).lower()
            if not ("locked" in text or "deadlock" in text or "busy" in text):
                break           # unreachable server, bad password, read-only file: no retry
        except sqlalchemy.exc.NoSuchModuleError as e:
            raise StorageError(f"storage {shown}: unknown database scheme "
                               f"({_first_line(e)})") from None
        except sqlalchemy.exc.ArgumentError as e:
            raise StorageError(f"storage {shown}: {_first_line(e)}") from None
        except ModuleNotFoundError as e:
            raise StorageError(f"storage {shown}: the database driver {e.name!r} is not "
                               f"installed") from None
        except (sqlalchemy.exc.SQLAlchemyError, OSError, RuntimeError) as e:
            last = e
            break
        time.sleep(min(2.0, 0.05 * 2 ** attempt))
    assert last is not None
    raise StorageError(f"storage {shown}: {_first_line(last)}") from None


def _sqlite_file(url: str) -> Path | None:
    rest = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    return None if rest in ("", ":memory:") else Path(rest).expanduser()


def _out_of_space(path: Path) -> bool:
    """Whether writing to ``path`` fails for lack of room: the disk (or quota) nearly full, or
    the file at this process's file-size limit (``ulimit -f``)."""
    import resource
    import shutil

    try:
        if shutil.disk_usage(path.parent).free < 1 << 20:
            return True
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            return any(p.exists() and p.stat().st_size + (1 << 16) >= limit
                       for p in (path, path.with_name(path.name + "-journal"),
                                 path.with_name(path.name + "-wal")))
    except OSError:
        pass
    return False


def write_failure(error: BaseException, url: "str | None" = None) -> str | None:
    """One line for an error (or any error in its chain) that means a storage write failed:
    ``no space left on PATH`` for a full disk (journal or SQLite), ``cannot write PATH: ...``
    for another write error; None for any other error.

    Optuna wraps such errors (``StorageInternalError``) and may raise another from its own
    clean-up (``AssertionError``), so the whole ``__cause__`` / ``__context__`` chain is read.
    """
    from ._storage_journal import NO_SPACE_ERRNOS, JournalWriteError, no_space

    seen: set[int] = set()
    sqlite = _sqlite_file(url) if url and url.startswith("sqlite") else None
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, JournalWriteError):
            return str(error)
        if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
            return no_space(error.filename or (str(sqlite) if sqlite else "the disk"))
        if type(error).__module__ == "sqlite3" and sqlite is not None:
            text = str(error)
            if "disk is full" in text or ("disk I/O error" in text and _out_of_space(sqlite)):
                return no_space(str(sqlite))
            if "disk I/O error" in text or "readonly" in text:
                return f"cannot write {sqlite}: {text}"
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return None


def reap_running(study: "optuna.Study") -> list[int]:
    """Mark every RUNNING trial of ``study`` FAIL and enqueue its parameters again (what
    heartbeats do, for a storage opened without them).
    Only call it when no worker of the study is alive. Returns the reaped trial numbers."""
    from optuna.trial import TrialState

    from .samplers.seam import fail_trial

    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if fail_trial(study, t):
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number},
                                skip_if_exists=False)
            reaped.append(t.number)
    return reaped
