"""Plain ``optuna.Study`` creation (and resumption) for a joint space + objective set.

Reading a study afterwards (Pareto set, hypervolume, report, figures) is
:mod:`moo_cosearch.analysis`."""

from __future__ import annotations

import hashlib
import math
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .objectives import ObjectiveSet, load_objectives
from .samplers import create_sampler, sampler_study_options, sampler_view
from .space import DEFAULT_VIEW, check_view
from .storage import DEFAULT_HEARTBEAT_S, open_storage

if TYPE_CHECKING:
    import optuna

    from .space import JointSpace

__all__ = ["DEFAULT_STORAGE", "MAX_STUDY_NAME", "Joined", "PRUNERS", "check_study_name",
           "create_study", "default_study_name", "join_study", "make_pruner", "worker_seed"]

DEFAULT_STORAGE = "sqlite:///runs/moo-cosearch.db"
#: The longest study name every storage keeps (Optuna's RDB schema: ``VARCHAR(512)``, which
#: PostgreSQL enforces and SQLite does not).
MAX_STUDY_NAME = 512


def check_study_name(name: object) -> str:
    """``name`` if every storage can keep it as a study name; ValueError (one line) if not."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"study name must be a non-empty string, got {name!r}")
    if len(name) > MAX_STUDY_NAME:
        raise ValueError(f"study name must be at most {MAX_STUDY_NAME} characters (the "
                         f"storages' limit), got {len(name)}: {name[:30]!r}...")
    return name
#: Pruners by name (``run --pruner``); they act on accuracy sources that report per step
#: (``train``, ``nb201-mf``) in single-objective studies.
PRUNERS = ("none", "median", "halving", "hyperband")


def make_pruner(pruner: "str | optuna.pruners.BasePruner | None") -> "optuna.pruners.BasePruner":
    """A pruner by name (:data:`PRUNERS`; None is ``"none"``) or the given one. Unlike
    Optuna's default (median), nothing is pruned unless asked."""
    import optuna

    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if not isinstance(pruner, str):
        return pruner
    makers = {"median": optuna.pruners.MedianPruner,
              "halving": optuna.pruners.SuccessiveHalvingPruner,
              "hyperband": optuna.pruners.HyperbandPruner}
    if pruner not in makers:
        raise ValueError(f"pruner must be one of {list(PRUNERS)}, got {pruner!r}")
    return makers[pruner]()


def default_study_name(space: "JointSpace", objectives: ObjectiveSet, sampler: str,
                       seed: int | None) -> str:
    return f"{space.name}--{objectives.name}--{sampler}--seed{seed}"


def worker_seed(seed: int | None, worker: "int | str | None") -> int | None:
    """The sampler seed of a worker: ``seed`` itself for the worker that creates a study
    (``worker=None``), otherwise a 31-bit hash of ``(seed, worker)`` so that workers of one
    study never share a random stream (``None`` stays ``None``: unseeded)."""
    if seed is None or worker is None:
        return seed
    digest = hashlib.sha256(f"{seed}:{worker}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Joined:
    """What :func:`join_study` did: the study, whether this call created it, and the seed its
    sampler got."""

    study: "optuna.Study"
    created: bool
    seed: int | None


def create_study(space: "JointSpace", objectives: ObjectiveSet | str | Path, *,
                 sampler: "str | optuna.samplers.BaseSampler" = "nsga2", seed: int | None = None,
                 sampler_options: Mapping[str, Any] | None = None,
                 storage: "str | optuna.storages.BaseStorage | None" = DEFAULT_STORAGE,
                 study_name: str | None = None, load_if_exists: bool = True,
                 view: str | None = None,
                 pruner: "str | optuna.pruners.BasePruner | None" = None) -> "optuna.Study":
    """A plain ``optuna.Study`` with the objective set's directions (SQLite file by default).

    The space and objective set are recorded in the study's user attrs, and the objective
    names reach Optuna (``study.metric_names``: ``optuna.visualization`` and optuna-dashboard
    label the axes with them; a ``[reward]`` set's one objective is ``"reward"``). Loading an
    existing study made for another space or objective set, or by another program, raises
    ``ValueError``. Any number of workers may call this at once on one storage: exactly one
    creates the study, the others join it (:func:`join_study` says which).

    Args:
        space: the joint space.
        objectives: objective set (instance, built-in name or TOML path).
        sampler: a sampler name for :func:`~moo_cosearch.samplers.create_sampler`, or a sampler.
            A named sampler whose :func:`~moo_cosearch.samplers.sampler_study_options` include
            ``"reference_point"`` gets the objective set's ``reference_point`` when it names
            every objective; one taking ``"ordered"`` / ``"groups"`` / ``"baseline"`` gets the
            space's ordered flag / group / :attr:`~JointSpace.baseline` value of every searched
            parameter. Options given in ``sampler_options`` win.
        seed: sampler seed. The call that creates the study seeds its sampler with ``seed``;
            a call that joins an existing study (a resume, another worker) with
            ``worker_seed(seed, "<host>:<pid>")``, so workers never repeat each other.
        sampler_options: extra sampler constructor options.
        storage: an Optuna storage URL (see :func:`~moo_cosearch.storage.open_storage`:
            SQLAlchemy URLs, ``journal:PATH``) or object; None keeps the study in memory.
        study_name: defaults to ``"<space>--<objectives>--<sampler>--seed<seed>"``.
        load_if_exists: resume a study with the same name in the same storage.
        view: how ordered grids reach the sampler (``"categorical"`` values or ``"index"``
            grid positions, see :meth:`JointSpace.distributions_for`); default: the named
            sampler's :func:`~moo_cosearch.samplers.sampler_view` (``"categorical"`` for a
            sampler object). Recorded in the study (user attr ``view``), where
            :class:`~moo_cosearch.objectives.Objective` reads it; a resumed study keeps its own.
        pruner: a name of :data:`PRUNERS` or an Optuna pruner, for accuracy sources that
            report per epoch (``train``, ``nb201-mf``); default: none (Optuna's default
            would be the median pruner).
    """
    return join_study(space, objectives, sampler=sampler, seed=seed,
                      sampler_options=sampler_options, storage=storage, study_name=study_name,
                      load_if_exists=load_if_exists, view=view, pruner=pruner).study


def join_study(space: "JointSpace", objectives: ObjectiveSet | str | Path, *,
               sampler: "str | optuna.samplers.BaseSampler" = "nsga2", seed: int | None = None,
               sampler_options: Mapping[str, Any] | None = None,
               storage: "str | optuna.storages.BaseStorage | None" = DEFAULT_STORAGE,
               study_name: str | None = None, load_if_exists: bool = True,
               view: str | None = None, worker: "int | str | None" = None,
               heartbeat: float | None = DEFAULT_HEARTBEAT_S,
               budget: int | None = None,
               pruner: "str | optuna.pruners.BasePruner | None" = None) -> Joined:
    """:func:`create_study`, saying whether the study was created and which seed the sampler
    got. ``worker`` names this worker for :func:`worker_seed` when it joins (default
    ``"<host>:<pid>"``); ``heartbeat`` is the RDB heartbeat interval in seconds (None: off);
    ``budget`` (evaluated trials the run plans) reaches samplers that take it (``phase``)."""
    import optuna

    obj = load_objectives(objectives)
    if view is not None:
        check_view(view)
    name = sampler if isinstance(sampler, str) else type(sampler).__name__
    options = dict(sampler_options or {})
    if isinstance(sampler, str):
        if "seed" in options:
            raise ValueError(f"sampler {name!r}: give the seed as seed= (CLI: --seed), not as "
                             f"a sampler option")
        # a bad name or option fails here, before anything is stored
        _make_sampler(name, seed, dict(options), space, obj, view or sampler_view(name), budget)
    if study_name is None:
        study_name = default_study_name(space, obj, name, seed)
    check_study_name(study_name)
    chosen_pruner = make_pruner(pruner)
    store = open_storage(storage, heartbeat=heartbeat) if isinstance(storage, str) or \
        storage is None else storage
    study, created = _open(store, study_name, obj.directions, load_if_exists)
    study.pruner = chosen_pruner
    stored_view = study.user_attrs.get("view")
    new_view = stored_view or view or (sampler_view(name) if isinstance(sampler, str)
                                       else DEFAULT_VIEW)
    _tag(study, space, obj, view, new_view)
    used_seed = seed
    if isinstance(sampler, str):
        if not created:
            used_seed = worker_seed(seed, worker if worker is not None
                                    else f"{socket.gethostname()}:{os.getpid()}")
        study.sampler = _make_sampler(name, used_seed, dict(options), space, obj,
                                      study.user_attrs.get("view", new_view), budget)
    else:
        study.sampler = sampler
    if study.metric_names is None:   # new, or made before the names reached Optuna
        with warnings.catch_warnings():   # experimental since Optuna 3.2, stable in practice
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(obj.metric_names)
    return Joined(study, created, used_seed)


def _open(storage: "optuna.storages.BaseStorage", study_name: str, directions: list[str],
          load_if_exists: bool) -> "tuple[optuna.Study, bool]":
    """Create the study, or load it when another worker (or an earlier run) made it."""
    import optuna

    placeholder = optuna.samplers.RandomSampler()   # replaced once the seed is known
    try:
        return optuna.create_study(storage=storage, study_name=study_name, sampler=placeholder,
                                   directions=directions), True
    except optuna.exceptions.DuplicatedStudyError:
        if not load_if_exists:
            raise ValueError(f"study {study_name!r} already exists; give another name or "
                             f"resume it") from None
    return optuna.load_study(study_name=study_name, storage=storage, sampler=placeholder), False


def _tag(study: "optuna.Study", space: "JointSpace", obj: ObjectiveSet, view: str | None,
         new_view: str) -> None:
    """Write the study's tags (space, objective set, metrics, view) or check them.

    Workers of one configuration may all write the same tags at once (a create/join race);
    each then reads them back, so of two different configurations racing for one new study
    exactly the one written last goes on. ``space_hash`` is written last: a worker that sees
    it sees every other tag, and one that does not writes them all itself (a joiner reading
    between the creator's writes once saw ``objectives`` missing and quit). A study that has
    trials but no tags was made by another program and is refused."""
    name = study.study_name
    tags = {"space": space.name, "objectives": obj.name, "space_hash": space.definition_hash}
    if "space_hash" not in study.user_attrs:
        if not study.get_trials(deepcopy=False):
            for key, value in {"metrics": obj.metric_names, "view": new_view, **tags}.items():
                study.set_user_attr(key, value)          # space_hash, the marker, last
        # the creator tags before its first trial, so trials with no tags even on a second
        # look (they may have landed between the two reads) are another program's
        elif "space_hash" not in study.user_attrs:
            raise ValueError(f"study {name!r} was not made by moo-cosearch (it has trials but "
                             f"no space/objective tags); use another study name")
    stored = study.user_attrs
    given = {**tags, "view": view} if view is not None else tags
    for key, value in given.items():
        if stored.get(key, DEFAULT_VIEW if key == "view" else None) != value:
            raise ValueError(f"study {name!r} was made with {key} {stored.get(key)!r}, not "
                             f"{value!r}; use another study name")
    if [d.name.lower() for d in study.directions] != obj.directions:
        raise ValueError(f"study {name!r} has directions "
                         f"{[d.name.lower() for d in study.directions]}, not {obj.directions}")


def _make_sampler(name: str, seed: int | None, options: dict[str, Any], space: "JointSpace",
                  obj: ObjectiveSet, view: str, budget: int | None = None
                  ) -> "optuna.samplers.BaseSampler":
    """Sampler ``name`` with the study options it takes filled in from space and objectives."""
    takes = sampler_study_options(name)
    if "reference_point" in takes and set(obj.metric_names) <= set(obj.reference_point):
        options.setdefault("reference_point",
                           [float(obj.reference_point[m]) for m in obj.metric_names])
    ref = options.get("reference_point")
    if ref is not None and not (isinstance(ref, (list, tuple)) and len(ref) == len(obj.metric_names)
                                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                        and math.isfinite(v) for v in ref)):
        raise ValueError(f"sampler {name!r}: option reference_point must be a list of "
                         f"{len(obj.metric_names)} finite numbers, one per objective "
                         f"{obj.metric_names}, got {ref!r}")
    searched = [p for p in space.params if not p.fixed]
    if "ordered" in takes:
        options.setdefault("ordered", {p.name: p.ordered for p in searched})
    if "groups" in takes:
        options.setdefault("groups", {p.name: p.group for p in searched})
    if "baseline" in takes:
        base = space.baseline
        options.setdefault("baseline", {p.name: p.index(base[p.name]) if view == "index"
                                        else base[p.name] for p in searched})
    if "budget" in takes and budget is not None:
        options.setdefault("budget", budget)
    return create_sampler(name, seed=seed, **options)
