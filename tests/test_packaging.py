"""The wheel carries the built-in spaces, objective sets, accuracy table and console script,
and an installed copy works without the source tree.

The project is copied to a temporary directory before building: pip builds a local directory
in place, and building in the shared checkout would write ``build/`` and ``*.egg-info`` there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import pip

ROOT = Path(__file__).resolve().parents[1]
SPACES = ["nahas-effnetb0-edge", "nahas-mbv2-edge", "nb201-device", "nb201-edge"]


@pytest.mark.integration
def test_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for space in SPACES:
            assert f"moo_cosearch/builtin_spaces/{space}.toml" in names
        objectives = {n for n in names if n.startswith("moo_cosearch/builtin_objectives/")
                      and n.endswith(".toml")}
        assert objectives, sorted(names)
        src_objectives = {f"moo_cosearch/builtin_objectives/{p.name}"
                          for p in (ROOT / "objectives").glob("*.toml")}
        assert objectives == src_objectives
        assert "moo_cosearch/data/nb201_accuracy.csv.gz" in names
        assert "moo_cosearch/data/nb201_device_latency_cifar100.csv.gz" in names
        assert "moo_cosearch/__init__.py" in names
        assert "moo_cosearch/samplers/__init__.py" in names
        assert "moo_cosearch/hardware/__init__.py" in names
        # every package of the source tree ships (pyproject.toml lists them one by one)
        for init in (ROOT / "moo_cosearch").rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                assert init.relative_to(ROOT).as_posix() in names, init
        # the packaged data is byte-identical to the source tree's
        assert zf.read("moo_cosearch/builtin_spaces/nb201-edge.toml") == (
            ROOT / "spaces" / "nb201-edge.toml").read_bytes()
        assert zf.read("moo_cosearch/data/nb201_accuracy.csv.gz") == (
            ROOT / "moo_cosearch" / "data" / "nb201_accuracy.csv.gz").read_bytes()
        entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert len(entry_points) == 1
        text = zf.read(entry_points[0]).decode()
    lines = [line.strip() for line in text.splitlines()]
    assert "[console_scripts]" in lines
    section = lines[lines.index("[console_scripts]") + 1:]
    assert "moo-cosearch = moo_cosearch.cli:main" in section
    # no tests, caches or build leftovers in the wheel
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)


@pytest.mark.integration
def test_installed_wheel_works_without_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel), cwd=tmp_path)
    assert (site / "moo_cosearch" / "builtin_spaces" / "nb201-edge.toml").is_file()
    script = (
        "import json, moo_cosearch\n"
        "from importlib import resources\n"
        "from moo_cosearch import load_space, list_objectives, list_spaces, load_objectives\n"
        "print(json.dumps({\n"
        "  'file': moo_cosearch.__file__,\n"
        "  'spaces_dir': str(resources.files('moo_cosearch.builtin_spaces')),\n"
        "  'card': load_space('nb201-edge').cardinality,\n"
        "  'spaces': list_spaces(),\n"
        "  'objectives': list_objectives(),\n"
        "  'loaded': [type(load_objectives(n)).__name__ for n in list_objectives()],\n"
        "}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the installed copy, not the editable checkout, was imported
    assert Path(out["file"]).resolve().is_relative_to(site.resolve()), out["file"]
    assert Path(out["spaces_dir"]).resolve().is_relative_to(site.resolve())
    assert out["card"] == 5**6 * 50_000
    assert out["spaces"] == sorted(p.stem for p in (ROOT / "spaces").glob("*.toml"))
    assert set(SPACES) <= set(out["spaces"])
    expected = sorted(p.name[:-5] for p in (ROOT / "objectives").glob("*.toml"))
    assert out["objectives"] == expected and expected
    assert out["loaded"] == ["ObjectiveSet"] * len(expected)
