"""The package layout: one-way imports between the rooms of the data flow, and registries that
take a new network family, cost backend or accuracy source from one new file."""

from __future__ import annotations

import ast
import graphlib
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "moo_cosearch"

#: Floors along the data flow; a module may import its own room or lower floors only.
FLOORS = {"space": 0, "_param": 0, "_toml": 0, "_pymoo": 0, "_version": 0, "data": 0,
          "_lazy": 0, "_interrupts": 0,
          "storage": 0, "networks": 1, "models": 1, "hardware": 2, "surrogate": 3, "accuracy": 4,
          "objectives": 5, "problems": 6, "study": 6, "analysis": 7, "workers": 7, "compare": 8,
          "cli": 9, "": 10}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _import_froms(mod: str, path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) of every import in ``mod``: function level,
    ``TYPE_CHECKING`` blocks and ``importlib.import_module("...")`` with a literal name too
    (an arrow a checker cannot see is still an arrow); ``import x`` gives ``(x, [])``."""
    out: list[tuple[str, list[str]]] = []
    base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]

    def absolute(name: str, level: int) -> str:
        if not level:
            return name
        return ".".join(base[:len(base) - (level - 1)] + ([name] if name else []))

    for ch in ast.walk(ast.parse(path.read_text())):
        if isinstance(ch, ast.ImportFrom):
            out.append((absolute(ch.module or "", ch.level), [a.name for a in ch.names]))
        elif isinstance(ch, ast.Import):
            out.extend((a.name, []) for a in ch.names)
        elif (isinstance(ch, ast.Call) and ast.unparse(ch.func).endswith("import_module")
              and ch.args and isinstance(ch.args[0], ast.Constant)
              and isinstance(ch.args[0].value, str)):
            name = ch.args[0].value
            level = len(name) - len(name.lstrip("."))
            out.append((absolute(name[level:], level), []))
    return out


def _imports(mod: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Package modules ``mod`` imports."""
    out = set()
    for name, names in _import_froms(mod, path):
        out |= {c for c in [name] + [f"{name}.{n}" for n in names] if c in mods and c != mod}
    return out


def _room(mod: str) -> str:
    """The room of a module: its sub-package or top-level module; a private helper module
    ``_<room>_<what>`` (e.g. ``_compare_stats``) belongs to ``<room>``."""
    parts = mod.split(".")
    room = parts[1] if len(parts) > 1 else ""
    if room not in FLOORS and room.startswith("_") and room[1:].split("_")[0] in FLOORS:
        return room[1:].split("_")[0]
    return room


def test_no_import_cycles_and_no_upward_arrows():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    graphlib.TopologicalSorter(graph).prepare()      # raises CycleError on a cycle
    upward = []
    for m, targets in graph.items():
        for t in targets:
            src, dst = _room(m), _room(t)
            if src == dst or t == "moo_cosearch.samplers.seam":
                continue        # the Optuna seam imports optuna only: any floor may use it
            if src == "samplers" or dst == "samplers" and FLOORS.get(src, 9) < FLOORS["study"]:
                upward.append(f"{m} -> {t}")              # samplers stand apart, used from study up
            elif dst != "samplers" and FLOORS.get(dst, 9) > FLOORS.get(src, 9):
                upward.append(f"{m} -> {t}")
    assert not upward, f"imports running up the data flow: {upward}"


def test_no_private_names_across_rooms():
    mods = _modules()
    bad = [f"{m} <- {name}.{n}" for m, p in mods.items() for name, names in _import_froms(m, p)
           if name.startswith("moo_cosearch") and _room(name) != _room(m)
           for n in names if n.startswith("_") and not n.startswith("__")
           and f"{name}.{n}" not in mods]
    assert not bad, bad


def _write_module(tmp_path: Path, monkeypatch, name: str, source: str):
    """One new file, imported once: its import is the registration line."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


@pytest.fixture
def clean_registries(monkeypatch):
    """Registries restored after the test (the toy entries do not leak into other tests)."""
    from moo_cosearch.accuracy import _registry as acc
    from moo_cosearch.hardware import _registry as hw
    from moo_cosearch.networks import _registry as net

    # the built-ins load first, so the copies hold them and the originals come back complete
    monkeypatch.setattr(net, "_FAMILIES", dict(net._families()))
    monkeypatch.setattr(hw, "_BACKENDS", dict(hw._backends()))
    monkeypatch.setattr(acc, "_SOURCES", dict(acc._sources()))
    yield
    net.layers_of_key.cache_clear()
    net.matrix_of_key.cache_clear()


TOY_FAMILY = '''
from moo_cosearch.networks import Family, Layer, register_family

def key(params):
    return ("toy-mlp", int(params["width"]))

def build(key):
    w = key[1]
    return [Layer("fc", 64, w, 1, 1, 1, 1, name="fc0"), Layer("fc", w, 10, 1, 1, 1, 1, name="fc1")]

register_family(Family("toy-mlp", key=key, build=build))
'''

TOY_BACKEND = '''
import numpy as np
from moo_cosearch.hardware import CostBackend, CostResult, register_backend
from moo_cosearch.networks import build_network, summarize

class MacCounter(CostBackend):
    """1 ns per MAC on a 1 mm2 chip; infeasible above a MAC budget."""
    name = "toy-macs"
    metrics = ("latency_ms", "area_mm2")

    def evaluate(self, space, designs):
        macs = np.array([summarize(build_network(space.network, space.validate(d)))[0]
                         for d in designs], dtype=float)
        return CostResult(latency_ms=macs * 1e-6, energy_mj=np.full(len(macs), np.nan),
                          area_mm2=np.ones(len(macs)), feasible=macs <= 64 * 64 + 64 * 10,
                          reason=tuple("" if m <= 64 * 64 + 64 * 10 else "too many MACs"
                                       for m in macs))

register_backend("toy-macs", MacCounter)
'''

TOY_SOURCE = '''
from moo_cosearch.accuracy import register_source

def wider_is_better(bonus=0.0):
    if bonus < 0:
        raise ValueError(f"bonus must be >= 0, got {bonus}")
    return lambda design: 50.0 + design["width"] / 4 + bonus

register_source("toy-width", wider_is_better, "toy: accuracy grows with the width")
'''


def test_toy_family_backend_and_source_each_one_file(tmp_path, monkeypatch, clean_registries):
    from moo_cosearch import JointSpace, Param, get_backend, make_objective
    from moo_cosearch.networks import build_network, list_families
    from moo_cosearch.objectives import ObjectivesError, ObjectiveSet

    _write_module(tmp_path, monkeypatch, "toy_family", TOY_FAMILY)
    _write_module(tmp_path, monkeypatch, "toy_backend", TOY_BACKEND)
    _write_module(tmp_path, monkeypatch, "toy_source", TOY_SOURCE)
    assert "toy-mlp" in list_families()
    assert [layer.macs for layer in build_network("toy-mlp", {"width": 32})] == [64 * 32, 32 * 10]

    space = JointSpace("toy", [Param("width", (16, 32, 64, 128), "nas", True),
                               Param("pes_x", (1,), "has", True)], network="toy-mlp")
    backend = get_backend("toy-macs")
    res = backend(space, [{"width": 16}, {"width": 128}])
    assert res.latency_ms.tolist() == pytest.approx([(64 * 16 + 160) * 1e-6, (64 * 128 + 1280) * 1e-6])
    assert res.feasible.tolist() == [True, False]

    objs = ObjectiveSet.from_dict({
        "name": "toy", "cost": "toy-macs", "accuracy": {"source": "toy-width", "bonus": 1.0},
        "objectives": [{"metric": "accuracy", "direction": "maximize"},
                       {"metric": "latency_ms", "direction": "minimize"}]})
    ev = make_objective(space, objs).evaluate({"width": 32})
    assert ev.values == pytest.approx((50 + 8 + 1, (64 * 32 + 320) * 1e-6))
    pruned = make_objective(space, objs).evaluate({"width": 128})
    assert not pruned.feasible and pruned.attrs["accuracy_evaluated"] is False

    # the source's options are checked when the objective set loads, before any trial
    for bad, rule in (({"source": "toy-width", "bonus": -1}, "bonus must be >= 0"),
                      ({"source": "toy-width", "malus": 1}, "takes options"),
                      ({"source": "toy-nothing"}, "accuracy source must be one of")):
        with pytest.raises(ObjectivesError, match=rule):
            ObjectiveSet.from_dict({"name": "t", "cost": "toy-macs", "accuracy": bad,
                                    "objectives": [{"metric": "accuracy",
                                                    "direction": "maximize"}]})


def test_surrogate_prefix_is_registered_without_hardware_importing_it():
    from moo_cosearch.hardware import get_backend

    with pytest.raises(Exception, match="no-such-file.pt"):
        get_backend("surrogate:/nonexistent/no-such-file.pt")
    hw_sources = "".join(p.read_text() for p in (PKG / "hardware").glob("*.py"))
    assert "surrogate" not in {n.split(".")[0] for n in _imported_names(hw_sources)}


def _imported_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.lstrip("."))
    return names


@pytest.mark.integration
def test_import_is_light():
    """``import moo_cosearch`` leaves torch, botorch, pymoo and optuna unimported."""
    import subprocess

    code = ("import sys, moo_cosearch; heavy = [m for m in ('torch', 'botorch', 'pymoo', "
            "'optuna') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.integration
def test_registries_load_once_for_threads_that_look_together():
    """Eight threads of a fresh process look at every registry at once: none may see it
    empty or half-filled while another thread is still importing the built-in modules."""
    script = textwrap.dedent("""
        import threading
        errors = []
        def look():
            try:
                from moo_cosearch.accuracy import list_sources
                from moo_cosearch.hardware import get_backend
                from moo_cosearch.networks import get_family
                from moo_cosearch.samplers import create_sampler
                get_backend("edge"); get_family("nb201"); create_sampler("tpe")
                assert "nb201" in list_sources()
            except Exception as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=look) for _ in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(errors)
    """)
    import subprocess

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
