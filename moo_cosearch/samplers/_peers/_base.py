"""What the external peers share: a search space in the peers' terms, the study's trials as
their data, and the Optuna plumbing around a proposal.

Every parameter of the relative search space becomes a :class:`PeerParam` named ``x0``,
``x1``, … (parameters sorted by name; peers restrict names, Optuna does not):

- ``"choice"``: a categorical, as the index of its choice (ordered when the study says so or
  when all choices are numbers);
- ``"int"``: an int or a stepped float, as the grid index ``i`` of ``low + i * step`` (an
  unstepped-by-one int is its own value, with its ``log`` flag);
- ``"float"``: an unstepped float, with its ``log`` flag.

The state is the study's trials, read anew on every proposal: a peer's optimiser is built
fresh from the COMPLETE trials (finite values; constraints as ``FrozenTrial.constraints``,
≤ 0 feasible) and the RUNNING ones it proposed (pending), so a resumed study and several
workers sharing one storage see the same data. The first ``n_startup_trials`` proposals are
random (seeded by the trial number, so workers differ and a seed repeats a study).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from .. import seam
from .._base import RelativeSampler
from .._codec import grid_size, grid_value, is_ordered, kind

__all__ = ["PARAMS_KEY", "Observations", "PeerParam", "PeerSampler", "peer_params"]

#: Trial system attr holding the peer's proposal (JSON: Optuna param name → value).
PARAMS_KEY = "moo_cosearch:peer_params"


@dataclass(frozen=True)
class PeerParam:
    """One parameter as a peer sees it (see the module docstring)."""

    key: str                 # x0, x1, ...: the peer's name
    name: str                # the Optuna name
    kind: str                # "choice", "int" or "float"
    low: float
    high: float
    log: bool = False
    ordered: bool = False
    grid: bool = False       # "int" as the index of a grid point (stepped ints and floats)
    dist: BaseDistribution | None = None

    def encode(self, value: Any) -> int | float:
        """Optuna's value → the peer's."""
        d = self.dist
        if isinstance(d, CategoricalDistribution):
            return d.choices.index(value)
        if self.grid:
            return int(round((value - d.low) / d.step))  # type: ignore[union-attr]
        return int(value) if self.kind == "int" else float(value)

    def decode(self, value: Any) -> Any:
        """The peer's value → Optuna's (plain Python types, inside the distribution)."""
        d = self.dist
        if isinstance(d, CategoricalDistribution):
            return d.choices[int(value)]
        if self.grid:
            return grid_value(d, int(min(max(round(float(value)), 0), self.high)))
        if self.kind == "int":
            return int(min(max(round(float(value)), self.low), self.high))
        return float(min(max(float(value), self.low), self.high))


def peer_params(space: Mapping[str, BaseDistribution],
                ordered: Mapping[str, bool] | None = None) -> list[PeerParam]:
    """The :class:`PeerParam` of every parameter of ``space`` (sorted by name)."""
    out = []
    for i, name in enumerate(sorted(space)):
        d, key = space[name], f"x{i}"
        k = kind(d, name)
        if k == "categorical":
            n = grid_size(d)
            out.append(PeerParam(key, name, "choice", 0, n - 1,
                                 ordered=is_ordered(name, d, ordered), dist=d))
        elif isinstance(d, IntDistribution) and d.step == 1:
            out.append(PeerParam(key, name, "int", d.low, d.high, log=d.log, dist=d))
        elif k == "grid":
            out.append(PeerParam(key, name, "int", 0, grid_size(d) - 1, grid=True, dist=d))
        else:
            out.append(PeerParam(key, name, "float", d.low, d.high, log=d.log, dist=d))
    return out


class Observations(NamedTuple):
    """The data a peer is told: ``X`` rows (peer values by key), ``Y`` (objective values in
    Optuna's directions), ``C`` (constraint values, ≤ 0 feasible; names in
    ``constraint_names``), and the pending rows (RUNNING trials' designs)."""

    X: list[dict[str, Any]]
    Y: np.ndarray
    C: np.ndarray
    constraint_names: list[str]
    pending: list[dict[str, Any]]


def observations(params: list[PeerParam], trials: list[FrozenTrial], n_objectives: int,
                 number: int) -> Observations:
    """The COMPLETE trials with finite values that cover every parameter, and the RUNNING
    trials (other than trial ``number``) whose design is known (see the module docstring)."""
    names = {p.name for p in params}

    def covered(values: Mapping[str, Any]) -> bool:
        return names <= set(values) and all(
            seam.contains(p.dist, values[p.name]) for p in params)

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
            and len(t.values) == n_objectives and all(math.isfinite(v) for v in t.values)
            and covered(t.params)]
    cnames = sorted({k for t in done for k in t.constraints})
    C = np.array([[t.constraints.get(k, 0.0) for k in cnames] for t in done],
                 dtype=float).reshape(len(done), len(cnames))
    finite = np.all(np.isfinite(C), axis=1)
    done = [t for t, ok in zip(done, finite) if ok]
    pending = []
    for t in trials:
        if t.state != TrialState.RUNNING or t.number == number:
            continue
        stored = t.system_attrs.get(PARAMS_KEY)
        design = {**(json.loads(stored) if stored else {}), **t.params}
        if covered(design):
            pending.append({p.key: p.encode(design[p.name]) for p in params})
    return Observations(
        X=[{p.key: p.encode(t.params[p.name]) for p in params} for t in done],
        Y=np.array([t.values for t in done], dtype=float).reshape(len(done), n_objectives),
        C=C[finite], constraint_names=cnames, pending=pending)


class PeerSampler(RelativeSampler):
    """Random start-up designs, then the peer's proposal (:meth:`_propose`), stored on the
    trial (:data:`PARAMS_KEY`) so that other workers treat it as pending.

    Args:
        seed: the seed of the start-up designs and of the peer (plus the trial number).
        n_startup_trials: random designs before the peer's model takes over.
        ordered: which categoricals are ordered (from the study).
    """

    def __init__(self, seed: int | None = None, n_startup_trials: int = 10,
                 ordered: dict[str, bool] | None = None) -> None:
        if not (isinstance(n_startup_trials, int) and n_startup_trials >= 1):
            raise ValueError(f"n_startup_trials must be an integer >= 1, got "
                             f"{n_startup_trials!r}")
        super().__init__(RandomSampler(seed=seed))
        self._seed = (int(np.random.SeedSequence().generate_state(1)[0]) if seed is None
                      else int(seed))
        self._n_startup_trials = n_startup_trials
        self._ordered = dict(ordered or {})

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        params = peer_params(search_space, self._ordered)
        seed = (self._seed + trial.number) % 2**31
        with self._lock:
            trials = seam.cached_trials(study)
            maximise = [d == StudyDirection.MAXIMIZE for d in study.directions]
            obs = observations(params, trials, len(maximise), trial.number)
            if len(obs.X) < self._n_startup_trials:
                rng = np.random.default_rng(seed)
                row = {p.key: self._random(p, rng) for p in params}
            else:
                row = self._propose(params, obs, maximise, seed)
            design = {p.name: p.decode(row[p.key]) for p in params}
            seam.set_trial_system_attr(study, trial, PARAMS_KEY, json.dumps(design))
        return design

    @staticmethod
    def _random(p: PeerParam, rng: np.random.Generator) -> int | float:
        if p.kind in ("choice", "int") and not p.log:
            return int(rng.integers(int(p.low), int(p.high) + 1))
        lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
        u = float(rng.uniform(lo, hi))
        return math.exp(u) if p.log else u

    def _propose(self, params: list[PeerParam], obs: Observations, maximise: list[bool],
                 seed: int) -> dict[str, Any]:
        """The peer's next design (peer values by key) given the study's data."""
        raise NotImplementedError
