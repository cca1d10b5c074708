"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                 ".pytest_cache", ".venv", "runs", "shared_copy", "*.whl",
                                 "studies", "results")


def pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run pip of this interpreter; fail the test with its output when it fails."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once from a copy of the tree (pip builds a local directory in
    place, and building in the checkout would write ``build/`` and ``*.egg-info`` there)."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools "
                                             "(--no-build-isolation)")
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)
    out = tmp / "wheels"
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(src),
        cwd=tmp)
    wheels = sorted(out.glob("moo_cosearch-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


@pytest.fixture(scope="session", autouse=True)
def single_threaded_torch():
    """torch on one thread for the whole run, the count it found restored at the end.

    The tests' tensors are small (GPs of a few points, tiny MLPs and proxy networks): on a shared
    two-core machine extra OpenMP threads only contend, and a study on the proxy source took
    minutes instead of seconds. Without torch installed it does nothing (the tests that need
    torch skip themselves)."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a real PostgreSQL server: ``MOO_COSEARCH_TEST_POSTGRES`` (``.ci/run`` starts one),
    else one started here for the session (``tests/pg_server.py``); skipped, with the reason,
    only where no server can start."""
    url = os.environ.get("MOO_COSEARCH_TEST_POSTGRES")
    if url:
        yield url
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from pg_server import PostgresUnavailable, start, stop

    import tempfile

    # not under pytest's basetemp: pytest keeps that 0700, and the server runs as nobody
    # when the tests run as root
    folder = Path(tempfile.mkdtemp(prefix="moo-cosearch-pg-"))
    try:
        url = start(folder)
    except PostgresUnavailable as e:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start here: {e}")
    try:
        yield url
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh database on :func:`postgres_server` for one test."""
    import hashlib
    import re

    sys.path.insert(0, str(Path(__file__).parent))
    from pg_server import create_database

    # one database per test (parametrised ids made unique by a hash: names are cut at 63)
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
    name = f"t_{digest}_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return create_database(postgres_server, name)
