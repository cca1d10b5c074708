"""open_storage: URLs, drivers, passwords, and joining a study from many threads at once."""

from __future__ import annotations

import importlib.util
import threading

import optuna
import pytest

from moo_cosearch import load_space
from moo_cosearch.storage import describe, open_storage
from moo_cosearch.storage import _driver_url  # noqa: PLC2701 - the URL rewrite itself
from moo_cosearch.study import join_study, worker_seed


def test_passwords_are_hidden():
    assert describe("postgresql://ann:s3cret@db:5432/x") == "postgresql://ann:***@db:5432/x"
    assert describe("sqlite:///runs/a.db") == "sqlite:///runs/a.db"


def test_postgres_urls_use_the_installed_driver(monkeypatch):
    real = importlib.util.find_spec

    def only(names):
        """find_spec as if exactly ``names`` of the two drivers were installed."""
        def find(name, *args):
            if name in ("psycopg", "psycopg2"):
                return object() if name in names else None
            return real(name, *args)
        return find

    monkeypatch.setattr(importlib.util, "find_spec", only({"psycopg"}))
    assert _driver_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert _driver_url("postgres://u@h/db") == "postgresql://u@h/db"
    monkeypatch.setattr(importlib.util, "find_spec", only({"psycopg2"}))
    assert _driver_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert _driver_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    monkeypatch.setattr(importlib.util, "find_spec", only(set()))
    with pytest.raises(ValueError, match=r"moo-cosearch\[postgres\]"):
        _driver_url("postgresql://u:pw@h/db")


def test_journal_urls(tmp_path):
    for url in (f"journal:{tmp_path / 'a.log'}", f"journal://{tmp_path / 'b.log'}"):
        storage = open_storage(url)
        assert isinstance(storage, optuna.storages.JournalStorage)
    assert (tmp_path / "a.log").exists() and (tmp_path / "b.log").exists()
    with pytest.raises(ValueError, match="does not exist"):
        open_storage(f"journal:{tmp_path / 'c.log'}", must_exist=True)


def test_worker_seeds_are_distinct_and_reproducible():
    seeds = {worker_seed(0, f"dask-{i}") for i in range(100)}
    assert len(seeds) == 100 and all(0 <= s < 2**31 for s in seeds)
    assert worker_seed(0, "dask-3") == worker_seed(0, "dask-3") != worker_seed(1, "dask-3")
    assert worker_seed(5, None) == 5 and worker_seed(None, "x") is None


@pytest.mark.slow
def test_eight_threads_join_a_new_sqlite_study_at_once(tmp_path):
    space = load_space("nb201-edge")
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    barrier = threading.Barrier(8)
    results, errors = [], []

    def join():
        try:
            barrier.wait()
            results.append(join_study(space, "nb201-cifar10-latency-area", sampler="nsga2",
                                      seed=0, storage=url, study_name="shared"))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=join) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(r.created for r in results) == 1
    assert len({r.seed for r in results}) == 2    # the creator's seed, and one per host:pid
    assert results[0].study.user_attrs["space"] == "nb201-edge"


def test_a_joiner_reading_between_the_creators_tag_writes_joins():
    """The creator writes its tags one at a time; a worker that loads the study after any
    number of those writes must join it, not quit on a tag it has not seen yet (CI once
    lost a worker of four this way: exit 2, 'made with objectives None')."""
    space = load_space("nb201-edge")
    writes = []
    real = optuna.Study.set_user_attr

    def record(self, key, value):
        writes.append((key, value))
        real(self, key, value)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(optuna.Study, "set_user_attr", record)
        join_study(space, "nb201-cifar10-latency-area", sampler="nsga2", seed=0,
                   storage=optuna.storages.InMemoryStorage(), study_name="s")
    assert len(writes) >= 2 and "space_hash" in dict(writes)
    for k in range(len(writes) + 1):
        storage = optuna.storages.InMemoryStorage()
        creator = optuna.create_study(storage=storage, study_name="s",
                                      directions=["maximize", "minimize", "minimize"])
        for key, value in writes[:k]:
            creator.set_user_attr(key, value)
        joined = join_study(space, "nb201-cifar10-latency-area", sampler="nsga2", seed=0,
                            storage=storage, study_name="s", worker="joiner")
        assert not joined.created
        assert {key: joined.study.user_attrs[key] for key, _ in writes} == dict(writes)
