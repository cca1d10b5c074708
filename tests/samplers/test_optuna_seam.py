"""Optuna's internals are touched in one module only, ``moo_cosearch/samplers/seam.py``.

Every module of the package is read with ``ast``; a use of Optuna's private API is an import of
a private Optuna module or name (``optuna.study._optimize``, ``from optuna.trial import
_state``), or an attribute (or ``getattr`` / ``setattr`` name) that Optuna's own study, trial,
storage and distribution classes keep private (``study._storage``, ``trial._trial_id``,
``dist._contains``, ...), read off anything but ``self`` (and off ``self`` too in a class that
subclasses one of those Optuna classes). The private names are collected from Optuna's
installed source, so a new Optuna internal is caught without a list to keep up to date.
"""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
import pytest

PKG = Path(__file__).resolve().parents[2] / "moo_cosearch"
SEAM = PKG / "samplers" / "seam.py"
OPTUNA = Path(optuna.__file__).parent
#: Where the Optuna objects a sampler is handed are defined.
OPTUNA_SOURCES = ["study", "trial", "storages", "distributions.py"]
#: Optuna classes whose subclasses' ``self._x`` is Optuna's ``_x``.
OPTUNA_BASES = {"Study", "FrozenTrial", "Trial", "BaseStorage", "BaseDistribution"}


def optuna_private_names() -> set[str]:
    """``_x`` attributes and methods of Optuna's study, trial, storage and distribution
    classes (``self._x = ...`` and ``def _x``), dunders left out."""
    names: set[str] = set()
    for src in OPTUNA_SOURCES:
        path = OPTUNA / src
        for f in ([path] if path.is_file() else sorted(path.rglob("*.py"))):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                if isinstance(node, ast.ClassDef):
                    for sub in ast.walk(node):
                        if (isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef))
                                and sub.name.startswith("_")):
                            names.add(sub.name)
                        elif (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)
                              and isinstance(sub.value, ast.Name) and sub.value.id == "self"):
                            names.add(sub.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _is_private_optuna_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "optuna" and any(p.startswith("_") for p in parts[1:])


def private_uses(path: Path, private: set[str]) -> list[str]:
    """``file:line what`` of every use of Optuna's private API in the module at ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []

    def visit(node: ast.AST, optuna_class: bool) -> None:
        for ch in ast.iter_child_nodes(node):
            inside = optuna_class
            if isinstance(ch, ast.ClassDef):
                inside = any(ast.unparse(b).split(".")[-1] in OPTUNA_BASES for b in ch.bases)
            where = f"{path.name}:{getattr(ch, 'lineno', '?')}"
            if isinstance(ch, ast.Import):
                found.extend(f"{where} imports {a.name}" for a in ch.names
                             if _is_private_optuna_module(a.name))
            elif isinstance(ch, ast.ImportFrom) and ch.module and not ch.level:
                if _is_private_optuna_module(ch.module):
                    found.append(f"{where} imports {ch.module}")
                elif ch.module.split(".")[0] == "optuna":
                    found.extend(f"{where} imports {ch.module}.{a.name}" for a in ch.names
                                 if a.name.startswith("_"))
            elif isinstance(ch, ast.Attribute) and ch.attr in private:
                on_self = isinstance(ch.value, ast.Name) and ch.value.id in ("self", "cls")
                if not on_self or inside:
                    found.append(f"{where} {ast.unparse(ch)}")
            elif (isinstance(ch, ast.Call) and isinstance(ch.func, ast.Name)
                  and ch.func.id in ("getattr", "setattr", "hasattr") and len(ch.args) >= 2
                  and isinstance(ch.args[1], ast.Constant) and ch.args[1].value in private):
                found.append(f"{where} {ast.unparse(ch)}")
            visit(ch, inside)

    visit(tree, False)
    return found


@pytest.mark.slow
def test_optuna_private_api_is_used_in_the_seam_only():
    private = optuna_private_names()
    outside = [f"{p.relative_to(PKG)}: {use}" for p in sorted(PKG.rglob("*.py")) if p != SEAM
               for use in private_uses(p, private)]
    assert outside == [], ("Optuna's private API outside moo_cosearch/samplers/seam.py (add a "
                           "function there, with the reason no public API serves):\n"
                           + "\n".join(outside))


@pytest.mark.slow
def test_the_seam_is_where_the_private_uses_are():
    """The scan sees the seam's own uses (it is not blind to the attributes it looks for)."""
    uses = "\n".join(private_uses(SEAM, optuna_private_names()))
    for attr in ("._storage", "._trial_id", "._study_id", "._contains", "._get_trials"):
        assert attr in uses, attr


@pytest.mark.slow
def test_the_check_flags_planted_uses(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import optuna.study._optimize\n"
        "from optuna.study._multi_objective import _is_pareto_front\n"
        "from optuna.trial import _state\n"
        "from optuna.study import Study\n"
        "def f(study, trial, dist):\n"
        "    study._storage.set_trial_system_attr(trial._trial_id, 'k', 1)\n"
        "    return dist._contains(0), getattr(study, '_study_id')\n"
        "class View(Study):\n"
        "    def g(self):\n"
        "        return self._get_trials()\n"
        "class Mine:\n"
        "    def h(self):\n"
        "        return self._storage, self._lock\n")
    found = private_uses(planted, optuna_private_names())
    assert found == [
        "planted.py:1 imports optuna.study._optimize",
        "planted.py:2 imports optuna.study._multi_objective",
        "planted.py:3 imports optuna.trial._state",
        "planted.py:6 study._storage",
        "planted.py:6 trial._trial_id",
        "planted.py:7 dist._contains",
        "planted.py:7 getattr(study, '_study_id')",
        "planted.py:10 self._get_trials",
    ], found
