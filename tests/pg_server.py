"""Start and stop a throw-away PostgreSQL server on 127.0.0.1 for the tests.

    python tests/pg_server.py start DIR   # prints the URL (postgresql://postgres@127.0.0.1:P/postgres)
    python tests/pg_server.py stop DIR

The binaries are ``initdb``/``pg_ctl`` on PATH, else those of the ``pgserver`` wheel (a dev
dependency). PostgreSQL refuses to run as root, so as root the server runs as ``nobody``
(``runuser``). ``.ci/run`` starts one for the whole test run and exports its URL as
``MOO_COSEARCH_TEST_POSTGRES``; without that variable, ``conftest.py`` starts its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No server could be started here (the reason is the message)."""


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    try:
        import pgserver
    except ImportError:
        raise PostgresUnavailable("no initdb on PATH and pgserver is not installed") from None
    path = Path(pgserver.__file__).parent / "pginstall" / "bin"
    if not (path / "initdb").exists():
        raise PostgresUnavailable(f"pgserver has no binaries in {path}")
    return path


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is missing")
    return [runuser, "-u", "nobody", "--", *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: str | Path) -> str:
    """Initialise a cluster in ``folder``/data, start it, return its URL."""
    bins = _bin_dir()
    folder = Path(folder).resolve()
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    data.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        import pwd

        nobody = pwd.getpwnam("nobody")
        for path in (folder, data):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(folder, 0o755)       # its parents must let nobody through: use /tmp
    port = _free_port()
    run = dict(capture_output=True, text=True, timeout=120)
    out = subprocess.run(_as_server_user([str(bins / "initdb"), "-D", str(data), "-U",
                                          "postgres", "--auth=trust", "-E", "UTF8"]), **run)
    if out.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {out.stderr.strip()[-300:]}")
    out = subprocess.run(_as_server_user([
        str(bins / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
        "-o", f"-p {port} -h 127.0.0.1 -k {folder} -c max_connections=200", "start"]), **run)
    if out.returncode != 0:
        log = (folder / "server.log").read_text()[-300:] if (folder / "server.log").exists() \
            else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {out.stderr.strip()[-300:]} {log}")
    (folder / "url").write_text(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    return (folder / "url").read_text()


def stop(folder: str | Path) -> None:
    """Stop the server of ``folder`` (started by :func:`start`)."""
    data = Path(folder).resolve() / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(_as_server_user([str(_bin_dir() / "pg_ctl"), "-D", str(data), "-m",
                                        "immediate", "-w", "stop"]),
                       capture_output=True, text=True, timeout=120)


def create_database(url: str, name: str) -> str:
    """A fresh database ``name`` on the server of ``url``; returns its URL."""
    import psycopg

    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    action, where = sys.argv[1], sys.argv[2]
    if action == "start":
        try:
            print(start(where))
        except PostgresUnavailable as e:
            print(f"PostgreSQL unavailable: {e}", file=sys.stderr)
            sys.exit(1)
    else:
        stop(where)
