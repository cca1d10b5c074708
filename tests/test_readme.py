"""Every README example a reader would copy runs as written.

A fenced ``python`` or ``bash`` block preceded by ``<!-- runnable -->`` is extracted and run in a
fresh temporary working directory: Python blocks saved as a script and run with this
interpreter in a subprocess (so an ``if __name__ == "__main__":`` guard matters), shell blocks
with ``bash -e -o pipefail`` and this interpreter's ``bin/`` (``moo-cosearch``) first on PATH.
Big sizes are made small by :data:`SUBSTITUTIONS`, applied to the runnable blocks only; a
target that no runnable block holds any more fails the test, so the table stays in step with
the README. Unmarked blocks must say why: a Python block is a fragment (a ``# fragment``
comment inside), a shell block has ``<!-- not run: REASON -->`` before it; other languages
(TOML, the CLI synopsis, output) are formats, not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
RUNNABLE = "<!-- runnable -->"
NOT_RUN = re.compile(r"^<!-- not run: .+ -->$")
TIMEOUT_S = 300

#: (README text, replacement): the README's sizes, made small enough for CI (2 cores, the whole
#: file well under 3 minutes).
SUBSTITUTIONS: list[tuple[str, str]] = [
    ("n_trials=200", "n_trials=6"),                 # quickstart, create_study + nsga2
    ("n_trials=100", "n_trials=6"),                 # quickstart, your own objective
    ("n_trials=60", "n_trials=12"),                 # qehvi: 10 startup trials + 2 BO trials
    ('"edge", 200_000, "samples.npz"', '"edge", 3_000, "samples.npz"'),  # two chunks: the
                                                    # worker pool (and the guard) still matter
    ("FitConfig(ensemble=1)", "FitConfig(ensemble=1, max_epochs=2)"),
    ("--n 200000", "--n 2000"),                     # CLI sample before train-surrogate
    ("--epochs 320", "--epochs 2"),
    ("--trials 100", "--trials 4"),                 # CLI first session
]


@dataclass
class Block:
    line: int                 # 1-based line of the opening fence
    lang: str
    code: str
    before: str               # the last non-empty line before the fence, stripped

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"


def _blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2), i
        before = next((x.strip() for x in reversed(lines[:i]) if x.strip()), "")
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"README.md:{start + 1}: unclosed code fence"
        out.append(Block(start + 1, lang, "\n".join(body) + "\n", before))
        i += 1
    return out


BLOCKS = _blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.before == RUNNABLE]


def _small(code: str) -> str:
    for old, new in SUBSTITUTIONS:
        code = code.replace(old, new)
    return code


def test_readme_has_runnable_blocks():
    langs = {b.lang for b in RUN}
    assert {"python", "bash"} <= langs, langs
    bad = [b.id for b in RUN if b.lang not in ("python", "bash")]
    assert not bad, f"{RUNNABLE} marks blocks that are neither python nor bash: {bad}"


def test_every_python_block_is_runnable_or_a_fragment():
    bad = [b.id for b in BLOCKS if b.lang == "python" and b.before != RUNNABLE
           and not re.search(r"#.*\bfragment\b", b.code, re.IGNORECASE)]
    assert not bad, (f"python blocks at {bad}: mark them {RUNNABLE} (and make them run) or say "
                     "in a comment inside that they are a fragment")


def test_every_shell_block_is_runnable_or_says_why_not():
    bad = [b.id for b in BLOCKS if b.lang in ("bash", "sh", "shell", "console")
           and b.before != RUNNABLE and not NOT_RUN.match(b.before)]
    assert not bad, (f"shell blocks at {bad}: mark them {RUNNABLE} (and make them run) or put "
                     "'<!-- not run: REASON -->' on the line before the fence")


def test_install_commands_are_not_run():
    for b in RUN:
        assert "python3 -m venv" not in b.code and "pip install" not in b.code, b.id


@pytest.mark.parametrize("old,new", SUBSTITUTIONS)
def test_substitution_targets_are_still_in_the_readme(old, new):
    assert any(old in b.code for b in RUN), (
        f"{old!r} is in no runnable README block any more: update SUBSTITUTIONS in "
        f"{Path(__file__).name} so that the README test stays small")


@pytest.mark.integration
@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_readme_block_runs(block, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if block.lang == "python":
        script = tmp_path / "readme_block.py"
        cmd = [sys.executable, script.name]
    else:
        script = tmp_path / "readme_block.sh"
        cmd = ["bash", "-e", "-o", "pipefail", script.name]
    script.write_text(_small(block.code), encoding="utf-8")
    try:
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"README.md:{block.line} ({block.lang}) ran past {TIMEOUT_S} s:\n{e.stdout}")
    assert proc.returncode == 0, (
        f"README.md:{block.line} ({block.lang}) exited {proc.returncode}\n--- code\n"
        f"{script.read_text()}--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n"
        f"{proc.stderr[-4000:]}")
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
