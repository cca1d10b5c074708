"""Study files that break never lose what they hold: a journal cut short at every byte of its
last record, a damaged line mid-file, a full disk under the journal and under SQLite.

Each case asserts the exact outcome: the storage opens with one warning and a ``.corrupt``
copy, or one line naming the file and line (and the command that salvages the records
before it), or ``no space left on PATH`` with every trial stored before it still loading.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from moo_cosearch import storage as storage_module
from moo_cosearch.storage import StorageError, open_storage


def _plain_trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    """The trials of the one study in ``path``, read by plain Optuna (no guard)."""
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).trials


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> bytes:
    """A journal of 4 COMPLETE trials (its last line: the 4th trial's completion)."""
    path = tmp_path_factory.mktemp("journal") / "j.log"
    study = optuna.create_study(study_name="s", storage=open_storage(f"journal:{path}"))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    return path.read_bytes()


def _last_record(data: bytes) -> int:
    return data.rstrip(b"\n").rfind(b"\n") + 1


def _check_cut(tmp_path: Path, journal: bytes, cut: int, caplog) -> None:
    """``journal`` cut at byte ``cut`` opens, with one warning and a ``.corrupt`` copy when a
    partial line is set aside, and takes new records that plain Optuna reads."""
    start = _last_record(journal)
    path = tmp_path / f"cut{cut}.log"
    path.write_bytes(journal[:cut])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="moo_cosearch.storage"):
        storage = open_storage(f"journal:{path}")
    warnings = [r.getMessage() for r in caplog.records]
    corrupt = Path(f"{path}.{start}.corrupt")
    if cut in (start, len(journal)):              # whole records only: nothing to say
        assert warnings == [] and not corrupt.exists(), cut
    elif cut == len(journal) - 1:                  # a whole record short of its "\n"
        assert len(warnings) == 1 and "lacked its line end" in warnings[0], cut
        assert path.read_bytes() == journal
    else:
        assert len(warnings) == 1, (cut, warnings)
        assert str(path) in warnings[0] and f"from byte {start}" in warnings[0]
        assert corrupt.read_bytes() == journal[start:cut], cut
        assert path.read_bytes() == journal[:start]
    # new records start on a fresh line, and plain Optuna reads the file
    optuna.load_study(study_name="s", storage=storage).set_user_attr("after", cut)
    trials = _plain_trials(path)
    complete = 4 if cut >= len(journal) - 1 else 3
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == complete, (cut, states)
    assert optuna.load_study(study_name="s", storage=storage).user_attrs == {"after": cut}


@pytest.mark.parametrize("where", ["start", "first-byte", "middle", "no-line-end", "whole"])
def test_a_journal_cut_in_its_last_record_opens(tmp_path, journal, caplog, where):
    start = _last_record(journal)
    cut = {"start": start, "first-byte": start + 1, "middle": (start + len(journal)) // 2,
           "no-line-end": len(journal) - 1, "whole": len(journal)}[where]
    _check_cut(tmp_path, journal, cut, caplog)


@pytest.mark.slow
def test_a_journal_cut_at_every_byte_of_its_last_record_opens(tmp_path, journal, caplog,
                                                               monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: None)     # durability is not what is tested
    start = _last_record(journal)
    assert len(journal) - start > 100
    for cut in range(start, len(journal) + 1):
        _check_cut(tmp_path, journal, cut, caplog)


def test_a_damaged_last_line_with_its_line_end_is_set_aside(tmp_path, journal, caplog):
    start = _last_record(journal)
    path = tmp_path / "j.log"
    path.write_bytes(journal[:start] + b'{"op_code": 6, "trial_id"\n')
    with caplog.at_level(logging.WARNING, logger="moo_cosearch.storage"):
        open_storage(f"journal:{path}")
    assert len(caplog.records) == 1 and Path(f"{path}.{start}.corrupt").exists()
    assert path.read_bytes() == journal[:start]


@pytest.mark.parametrize("where", ["after-first", "middle", "before-last"])
@pytest.mark.parametrize("damage", [b"{not json}\n", b"\xff\xfe\n", b"[1, 2]\n",
                                    b'{"op_code": 6, "trial_\n'])
def test_a_damaged_line_mid_file_names_the_file_line_and_the_salvage(tmp_path, journal,
                                                                    damage, where):
    lines = journal.splitlines(keepends=True)
    k = {"after-first": 1, "middle": len(lines) // 2, "before-last": len(lines) - 1}[where]
    path = tmp_path / "j.log"
    path.write_bytes(b"".join(lines[:k]) + damage + b"".join(lines[k:]))
    with pytest.raises(StorageError) as info:
        open_storage(f"journal:{path}")
    message = str(info.value)
    assert "\n" not in message and f"{path} line {k + 1} is damaged" in message, message
    command = message.split("salvaged into a new journal with: ", 1)[1]
    assert command == f"head -n {k} {path} > {path}.salvaged"
    subprocess.run(command, shell=True, check=True)
    salvaged = Path(f"{path}.salvaged").read_bytes()
    assert salvaged == b"".join(lines[:k])
    assert path.read_bytes().count(b"\n") == len(lines) + 1      # the file is unchanged
    open_storage(f"journal:{path}.salvaged")                     # a journal that opens


def test_a_full_disk_while_appending_keeps_the_journal_whole(tmp_path, journal, monkeypatch):
    path = tmp_path / "j.log"
    path.write_bytes(journal)
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{path}"))
    real = os.write

    def half_then_full(fd, data):                   # the disk fills mid-record
        real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    import moo_cosearch._storage_journal as guard

    monkeypatch.setattr(guard.os, "write", half_then_full)
    with pytest.raises(OSError) as info:
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert storage_module.write_failure(info.value) == f"no space left on {path}"
    assert path.read_bytes() == journal               # nothing half-written stays
    monkeypatch.undo()
    assert len(_plain_trials(path)) == 4


_FILL = '''
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # SIGXFSZ is ignored by Python
from moo_cosearch.cli import main
sys.exit(main(sys.argv[2:]))
'''


def _run(args: list[str], cwd: Path, limit: int | None = None) -> subprocess.CompletedProcess:
    prefix = [sys.executable, "-c", _FILL, str(limit)] if limit else \
        [sys.executable, "-m", "moo_cosearch.cli"]
    return subprocess.run(prefix + args, cwd=cwd, capture_output=True, text=True, timeout=300)


def _errors(stderr: str) -> list[str]:
    """stderr without the notices a slow step may print (``checking the configuration ...``
    after 5 s on a loaded machine)."""
    return [x for x in stderr.strip().splitlines() if not x.startswith("checking the ")]


def _stored(url: str) -> list[optuna.trial.FrozenTrial]:
    if url.startswith("journal:"):
        return _plain_trials(Path(url[len("journal:"):]))
    (summary,) = optuna.get_all_study_summaries(url)
    return optuna.load_study(study_name=summary.study_name, storage=url).trials


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_full_disk_is_one_line_and_loses_no_trial(tmp_path, kind):
    """A file-size limit (``ulimit -f``) stands in for a full disk; the next test uses a real
    full file system where it can mount one."""
    name = "s.log" if kind == "journal" else "s.db"
    url = f"journal:{name}" if kind == "journal" else f"sqlite:///{name}"
    base = ["run", "--trials", "3", "-q", "--storage", url, "--out", "out"]
    assert _run(base, tmp_path).returncode == 0
    before = _stored(url.replace(name, str(tmp_path / name)))
    size = (tmp_path / name).stat().st_size
    # room for about two more trials (a journal trial of this space takes ~6 kB)
    room = 2 * size // 3 if kind == "journal" else 6000
    full = _run(base[:2] + ["40"] + base[3:], tmp_path, limit=size + room)
    assert full.returncode == 2, full.stderr
    assert _errors(full.stderr) == [f"moo-cosearch run: no space left on {name}; every trial "
                                    f"stored before it is kept"], full.stderr
    after = _stored(url.replace(name, str(tmp_path / name)))
    done = [t for t in after if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) > len(before) and [t.number for t in before] == \
        [t.number for t in after[:len(before)]]
    again = _run(base, tmp_path)                       # and the study goes on once there is room
    assert again.returncode == 0, again.stderr


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_really_full_disk_is_one_line_and_loses_no_trial(tmp_path, kind):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "160k"):
        pytest.skip("mounting a small tmpfs needs root (the file-size-limit test covers it)")
    try:
        name = "s.log" if kind == "journal" else "s.db"
        url = f"journal:{disk / name}" if kind == "journal" else f"sqlite:///{disk / name}"
        run = _run(["run", "--trials", "400", "-q", "--storage", url, "--out",
                    str(tmp_path / "out")], tmp_path)
        assert run.returncode == 2, run.stderr
        assert _errors(run.stderr) == [
            f"moo-cosearch run: no space left on {disk / name}; every trial stored before "
            f"it is kept"], run.stderr
        done = [t for t in _stored(url) if t.state == optuna.trial.TrialState.COMPLETE]
        assert done, "trials stored before the disk filled still load"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)   # -l: SQLite may hold it open


def _foreign_files(tmp_path: Path) -> dict[str, Path]:
    import sqlite3

    files = {}
    other = tmp_path / "other.db"                  # another program's database
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
        db.execute("INSERT INTO notes VALUES (1)")
    db.close()
    files["another-program"] = other
    many = tmp_path / "many.db"
    with sqlite3.connect(many) as db:
        for i in range(7):
            db.execute(f"CREATE TABLE t{i} (x)")
    db.close()
    files["another-program-many-tables"] = many
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n")
    files["text"] = text
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    files["damaged"] = damaged
    return files


_COMMANDS = {
    "run": ["run", "--trials", "1", "-q", "--out", "OUT"],
    "verify": ["verify", "--study-name", "x"],
    "dashboard": ["dashboard", "--port", "1"],
    "compare": ["compare", "--samplers", "random", "--seeds", "1", "--trials", "2", "-q",
                "--out", "OUT"],
}


@pytest.mark.parametrize("command", sorted(_COMMANDS))
@pytest.mark.parametrize("kind", ["another-program", "another-program-many-tables", "text",
                                  "damaged"])
def test_files_that_are_not_our_database_are_refused_unchanged(tmp_path, capsys, command, kind):
    from moo_cosearch.cli import main

    path = _foreign_files(tmp_path)[kind]
    before = path.read_bytes()
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in _COMMANDS[command]]
    assert main([*argv, "--storage", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"storage sqlite:///{path}: {path} is " in err, err
    if kind.startswith("another-program"):
        assert "another program's database" in err and "refusing to write" in err
    assert path.read_bytes() == before and not Path(f"{path}-journal").exists()


def test_dashboard_refuses_a_missing_database(tmp_path, capsys):
    from moo_cosearch.cli import main

    db = tmp_path / "missing.db"
    assert main(["dashboard", "--storage", f"sqlite:///{db}", "--port", "1"]) == 2
    assert f"{db} does not exist" in capsys.readouterr().err
    assert not db.exists()


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1"])
def test_heartbeats_that_are_not_a_finite_interval_are_refused(tmp_path, capsys, value):
    from moo_cosearch.cli import main

    assert main(["run", "--trials", "1", "-q", "--storage", "memory", f"--heartbeat={value}",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"moo-cosearch run: heartbeat must be a finite number of "
                                f"seconds > 0 (0 on the command line: none), got "
                                f"{float(value)!r}"]


@pytest.mark.slow
def test_sqlite_in_memory_with_heartbeats_works(tmp_path):
    """One process, so heartbeats are off there (their thread would see an empty database of
    its own); the trials are stored and run on."""
    storage = open_storage("sqlite:///:memory:", heartbeat=0.5)
    study = optuna.create_study(storage=storage)

    def slow(trial):
        import time

        time.sleep(1.2)            # longer than two heartbeats
        return trial.suggest_float("x", 0, 1)

    study.optimize(slow, n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
