"""Plain ``optuna.Study`` creation (and resumption) for a joint space + objective set.

Reading a study afterwards (Pareto set, hypervolume, report, figures) is
:mod:`moo_cosearch.analysis`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .objectives import ObjectiveSet, load_objectives
from .samplers import create_sampler, sampler_study_options, sampler_view
from .space import DEFAULT_VIEW, check_view

if TYPE_CHECKING:
    import optuna

    from .space import JointSpace

__all__ = ["DEFAULT_STORAGE", "create_study", "default_study_name"]

DEFAULT_STORAGE = "sqlite:///runs/moo-cosearch.db"


def default_study_name(space: "JointSpace", objectives: ObjectiveSet, sampler: str,
                       seed: int | None) -> str:
    return f"{space.name}--{objectives.name}--{sampler}--seed{seed}"


def _prepare_storage(storage: str) -> str:
    """Create the folder of a relative/absolute SQLite file URL; other URLs pass through."""
    prefix = "sqlite:///"
    if storage.startswith(prefix) and storage != prefix + ":memory:":
        Path(storage[len(prefix):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return storage


def create_study(space: "JointSpace", objectives: ObjectiveSet | str | Path, *,
                 sampler: "str | optuna.samplers.BaseSampler" = "nsga2", seed: int | None = None,
                 sampler_options: Mapping[str, Any] | None = None,
                 storage: "str | optuna.storages.BaseStorage | None" = DEFAULT_STORAGE,
                 study_name: str | None = None, load_if_exists: bool = True,
                 view: str | None = None) -> "optuna.Study":
    """A plain ``optuna.Study`` with the objective set's directions (SQLite file by default).

    The space and objective set are recorded in the study's user attrs, and the objective
    names reach Optuna (``study.metric_names``: ``optuna.visualization`` and optuna-dashboard
    label the axes with them; a ``[reward]`` set's one objective is ``"reward"``). Loading an
    existing study made for another space or objective set raises ``ValueError``.

    Args:
        space: the joint space.
        objectives: objective set (instance, built-in name or TOML path).
        sampler: a sampler name for :func:`~moo_cosearch.samplers.create_sampler`, or a sampler.
            A named sampler whose :func:`~moo_cosearch.samplers.sampler_study_options` include
            ``"reference_point"`` gets the objective set's ``reference_point`` when it names
            every objective; one taking ``"ordered"`` / ``"groups"`` / ``"baseline"`` gets the
            space's ordered flag / group / :attr:`~JointSpace.baseline` value of every searched
            parameter. Options given in ``sampler_options`` win.
        seed: sampler seed.
        sampler_options: extra sampler constructor options.
        storage: an Optuna storage URL or object; None keeps the study in memory.
        study_name: defaults to ``"<space>--<objectives>--<sampler>--seed<seed>"``.
        load_if_exists: resume a study with the same name in the same storage.
        view: how ordered grids reach the sampler (``"categorical"`` values or ``"index"``
            grid positions, see :meth:`JointSpace.distributions_for`); default: the named
            sampler's :func:`~moo_cosearch.samplers.sampler_view` (``"categorical"`` for a
            sampler object). Recorded in the study (user attr ``view``), where
            :class:`~moo_cosearch.objectives.Objective` reads it; a resumed study keeps its own.
    """
    import optuna

    obj = load_objectives(objectives)
    if view is not None:
        check_view(view)
    new_view = view or DEFAULT_VIEW    # a new study's view; a resumed one keeps its own
    if isinstance(sampler, str):
        name = sampler
        new_view = view or sampler_view(name)
        options = dict(sampler_options or {})
        if "seed" in options:
            raise ValueError(f"sampler {name!r}: give the seed as seed= (CLI: --seed), not as "
                             f"a sampler option")
        takes = sampler_study_options(name)
        if "reference_point" in takes and set(obj.metric_names) <= set(obj.reference_point):
            options.setdefault("reference_point",
                               [float(obj.reference_point[m]) for m in obj.metric_names])
        searched = [p for p in space.params if not p.fixed]
        if "ordered" in takes:
            options.setdefault("ordered", {p.name: p.ordered for p in searched})
        if "groups" in takes:
            options.setdefault("groups", {p.name: p.group for p in searched})
        if "baseline" in takes:
            base = space.baseline
            options.setdefault("baseline", {p.name: p.index(base[p.name]) if new_view == "index"
                                            else base[p.name] for p in searched})
        sampler = create_sampler(sampler, seed=seed, **options)
    else:
        name = type(sampler).__name__
    if study_name is None:
        study_name = default_study_name(space, obj, name, seed)
    if isinstance(storage, str):
        storage = _prepare_storage(storage)
    study = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                directions=obj.directions, load_if_exists=load_if_exists)
    tags = {"space": space.name, "space_hash": space.definition_hash, "objectives": obj.name}
    stored = study.user_attrs
    if "space" in stored:
        given = {**tags, "view": view} if view is not None else tags
        for key, value in given.items():
            if stored.get(key, DEFAULT_VIEW if key == "view" else None) != value:
                raise ValueError(f"study {study_name!r} was made with {key} "
                                 f"{stored.get(key)!r}, not {value!r}; use another study name")
        if [d.name.lower() for d in study.directions] != obj.directions:
            raise ValueError(f"study {study_name!r} has directions "
                             f"{[d.name.lower() for d in study.directions]}, not {obj.directions}")
    else:
        for key, value in tags.items():
            study.set_user_attr(key, value)
        study.set_user_attr("metrics", obj.metric_names)
        study.set_user_attr("view", new_view)
    if study.metric_names is None:   # new, or made before the names reached Optuna
        with warnings.catch_warnings():   # experimental since Optuna 3.2, stable in practice
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(obj.metric_names)
    return study

