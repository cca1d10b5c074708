"""pymoo algorithms (NSGA-II, NSGA-III, MOEA/D, SMS-EMOA, AGE-MOEA) as an Optuna sampler.

Generations, as in Optuna's ``NSGAIISampler``, are groups of trials marked by a trial system
attr; everything the algorithm knows is rebuilt from the study, so a resumed study and every
worker on one storage share one run of the algorithm:

- **Generation 0** is ``population_size`` random trials (the independent ``RandomSampler``,
  as Optuna's NSGA-II; the search space is only known once a trial has completed). It closes
  when that many of its trials are COMPLETE; the first ``population_size`` of them by number
  are its members, the algorithm's initial population.
- **Generation g >= 1** has ``n_offsprings`` slots: the offspring the algorithm asks for after
  being told generations 0..g-1 (:class:`~._run.Replay`). A trial takes the lowest slot
  no trial of generation g holds yet (trial system attrs ``<prefix>:generation`` and
  ``<prefix>:slot``) and is given that slot's design. The offspring list is the same in every
  worker: the algorithm's seed is a hash of generation 0's members (so it follows the study's
  seed through generation 0's random designs, yet no worker's own seed), and its state is a
  function of that seed and the members told. Slots past ``n_offsprings`` (workers that ask
  while the last offspring are still running) get designs of the same mating in a copy of the
  algorithm; they are evaluated and stay in the study, but are not told.
- Generation g closes when each of its slots holds a finished trial (COMPLETE, FAIL or
  PRUNED), or when ``2 * n_offsprings`` of its trials have finished (so a trial left RUNNING
  by a killed worker cannot stall the run). Its members, the first COMPLETE trial of each slot
  by number (None for a slot whose trials failed), are told to the algorithm.

Each closed generation's members are written once as a study system attr
(``<prefix>:members:<g>``, a JSON list of trial numbers) by the worker that closes it, and
read from there from then on: a trial finishing later can no longer change what was told. The
sampler keeps the stepped algorithm in memory and replays it from the stored members when they
are not the ones it has seen (a new process, a resumed study, another study). Threads of one
process share a per-sampler lock around all of this. Across processes a slot is claimed by
reading the storage, writing the claim and reading it back: of two trials holding one slot the
lower-numbered keeps it, unless the other still holds it ``_GRACE_S`` later (it had checked
before this claim was written, so it keeps it); the one that yields claims the next free slot.
Storages offer no atomic claim, so a worker stalled for longer than that between its write and
its read-back can still share a slot (the generation then takes the first result). Three
processes on one SQLite study with 20 ms evaluations (nsga2 twice, nsga3, moead, smsemoa; 120
trials each) shared no slot, and every design was its slot's offspring as a fresh replay of
the stored members computes it.

Objectives reach pymoo in minimisation form, constraints (``trial.set_constraint``: > 0
violates) as one summed violation; MOEA/D, which pymoo runs without constraints, sees them as
a penalty (:mod:`._run`). One objective works with all five: NSGA-II and AGE-MOEA as
they are, NSGA-III with U-NSGA-III's tournament, SMS-EMOA with truncation by value (its
one-dimensional hypervolume contribution), MOEA/D with ``population_size`` copies of the
weight ``[1]`` (a neighbourhood-mating, replace-if-better steady GA).

``<prefix>`` is ``moo_cosearch:pymoo-<algorithm>:p<population_size>o<n_offsprings>``: a study
resumed with another algorithm or sizes starts its own generation 0 rather than misreading
these. Trials of other samplers in the study (no generation attr) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from .._base import RelativeSampler
from ..seam import (is_in_memory, set_study_system_attr, set_trial_system_attr,
                     study_id, study_system_attrs)

if TYPE_CHECKING:
    from ._run import Observation, Replay
    from ._space import Columns

__all__ = ["PymooSampler"]

_ALGORITHMS = ("nsga2", "nsga3", "moead", "smsemoa", "agemoea")  # = _pymoo_run.ALGORITHMS
_CLAIMS = 4  # slot claims at most per trial (each after a rival kept the last one)
_GRACE_S = 0.05  # time a later-numbered rival gets to see a claim and move on


@dataclass
class _Run:
    """The stepped algorithm of one study and the members it has been told."""

    key: tuple
    replay: "Replay"
    told: list[list] = field(default_factory=list)


class PymooSampler(RelativeSampler):
    """A pymoo algorithm run through ask and tell on a study's trials (module docstring).

    Args:
        algorithm: ``"nsga2"``, ``"nsga3"``, ``"moead"``, ``"smsemoa"`` or ``"agemoea"``.
        seed: seed of generation 0's random designs (and so of the algorithm).
        population_size: the algorithm's population (MOEA/D: its number of weight vectors),
            and the size of generation 0.
        n_offsprings: trials per later generation (default ``population_size``; MOEA/D: at
            most ``population_size``; 1 makes SMS-EMOA steady-state, as originally proposed).
        n_neighbors: MOEA/D's neighbourhood size (default ``max(2, population_size // 5)``).
        ordered: name → whether a categorical's choices are ordered (ordered ones are
            integers to the operators, unordered ones choices; default: ordered when all
            choices are numbers).
    """

    def __init__(self, algorithm: str = "nsga2", *, seed: int | None = None,
                 population_size: int = 20, n_offsprings: int | None = None,
                 n_neighbors: int | None = None,
                 ordered: Mapping[str, bool] | None = None) -> None:
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {list(_ALGORITHMS)}, got {algorithm!r}")
        if population_size < 4:
            raise ValueError(f"population_size must be >= 4, got {population_size}")
        n_off = population_size if n_offsprings is None else n_offsprings
        top = population_size if algorithm == "moead" else None
        if n_off < 1 or (top is not None and n_off > top):
            raise ValueError(f"n_offsprings must be >= 1{f' and <= {top}' if top else ''}, "
                             f"got {n_offsprings}")
        k = max(2, population_size // 5) if n_neighbors is None else n_neighbors
        if not 2 <= k <= population_size:
            raise ValueError(f"n_neighbors must be between 2 and population_size "
                             f"({population_size}), got {n_neighbors}")
        if ordered is not None and not isinstance(ordered, Mapping):
            raise ValueError(f"ordered must be a mapping of parameter name to bool, "
                             f"got {ordered!r}")
        self._algorithm = algorithm
        self._population_size = population_size
        self._n_offsprings = n_off
        self._n_neighbors = k
        self._ordered = None if ordered is None else dict(ordered)
        # generation 0, and parameters outside the relative search space: random
        super().__init__(RandomSampler(seed=seed))
        self._run: _Run | None = None
        prefix = f"moo_cosearch:pymoo-{algorithm}:p{population_size}o{n_off}"
        self._gen_key = f"{prefix}:generation"
        self._slot_key = f"{prefix}:slot"
        self._members_key = f"{prefix}:members:"

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_run"] = None  # a cache: a copy replays the algorithm from the study
        return state

    # -- BaseSampler ------------------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:  # the first trial (no space known yet): part of generation 0
            set_trial_system_attr(study, trial, self._gen_key, 0)
            return {}
        from ._space import Columns

        columns = Columns(search_space, self._ordered)
        with self._lock:
            # Study.get_trials reads the storage (optuna's cached RDB storage re-reads every
            # unfinished trial), so other workers' claims are current; the study attrs are
            # read first, so every member they name is among the trials read after.
            attrs = study_system_attrs(study)
            trials = study.get_trials(deepcopy=False)
            members = self._closed_generations(study, attrs, trials, columns)
            gen = len(members)
            set_trial_system_attr(study, trial, self._gen_key, gen)
            if gen == 0:
                return {}
            if not _numbers(members) <= {t.number for t in trials}:
                trials = study.get_trials(deepcopy=False)  # named by another worker just now
            run = self._replayed(study, trials, columns, members)
            slot = self._claim_slot(study, trial, gen)
            return columns.decode(run.replay.offspring(slot))

    # -- generations ------------------------------------------------------------------------
    def _closed_generations(self, study: Study, attrs: dict[str, Any],
                            trials: list[FrozenTrial], columns: "Columns") -> list[list]:
        """The members of every closed generation, in order; closes (and stores) those that
        became complete. A generation another worker closed meanwhile keeps its members."""
        by_gen: dict[int, list[FrozenTrial]] = defaultdict(list)
        for t in trials:
            g = t.system_attrs.get(self._gen_key)
            if g is not None:
                by_gen[g].append(t)
        closed: list[list] = []
        while True:
            key = self._members_key + str(len(closed))
            members = attrs.get(key)
            if members is None:
                members = self._close(len(closed), by_gen[len(closed)], columns)
                if members is None:
                    return closed
                stored = study_system_attrs(study).get(key)
                if stored is None:
                    set_study_system_attr(study, key, members)
                else:
                    members = stored
            closed.append(members)

    def _close(self, gen: int, trials: list[FrozenTrial],
               columns: "Columns") -> list[int | None] | None:
        """The members of generation ``gen`` if it is complete now, else None."""
        trials = sorted(trials, key=lambda t: t.number)
        if gen == 0:
            done = [t.number for t in trials if self._usable(t, columns)]
            return done[:self._population_size] if len(done) >= self._population_size \
                else None
        size = self._n_offsprings
        members: list[int | None] = [None] * size
        slots_done: set[int] = set()
        finished = 0
        for t in trials:
            if not t.state.is_finished():
                continue
            finished += 1
            slot = t.system_attrs.get(self._slot_key)
            if slot is None or slot >= size:
                continue
            slots_done.add(slot)
            if members[slot] is None and self._usable(t, columns):
                members[slot] = t.number
        if len(slots_done) < size and finished < 2 * size:
            return None
        return members

    @staticmethod
    def _usable(t: FrozenTrial, columns: "Columns") -> bool:
        """COMPLETE, finite values, and parameters in the search space."""
        return (t.state == TrialState.COMPLETE and t.values is not None
                and all(math.isfinite(v) for v in t.values)
                and columns.encode(t.params) is not None)

    def _claim_slot(self, study: Study, trial: FrozenTrial, gen: int) -> int:
        """The lowest slot of generation ``gen`` that no other trial holds, claimed for
        ``trial`` from a fresh read of the storage. When other processes may share it, the
        claim is read back: a lower-numbered trial holding the same slot keeps it; a higher-
        numbered one is given ``_GRACE_S`` to read this claim and move on, and if it still
        holds the slot it was there first, so this trial moves on instead."""
        trials = study.get_trials(deepcopy=False)
        for _ in range(_CLAIMS):
            held = {t.system_attrs.get(self._slot_key) for t in trials
                    if t.number != trial.number and t.system_attrs.get(self._gen_key) == gen}
            slot = next(s for s in range(len(held) + 1) if s not in held)
            set_trial_system_attr(study, trial, self._slot_key, slot)
            if is_in_memory(study):
                break  # one process: the lock already orders the claims
            trials = study.get_trials(deepcopy=False)
            rivals = self._rivals(trials, trial, gen, slot)
            if rivals and min(rivals) > trial.number:
                time.sleep(_GRACE_S)
                trials = study.get_trials(deepcopy=False)
                rivals = self._rivals(trials, trial, gen, slot)
            if not rivals:
                break
        return slot

    def _rivals(self, trials: list[FrozenTrial], trial: FrozenTrial, gen: int,
                slot: int) -> list[int]:
        """Numbers of the other trials holding ``slot`` of generation ``gen``."""
        return [t.number for t in trials if t.number != trial.number
                and t.system_attrs.get(self._gen_key) == gen
                and t.system_attrs.get(self._slot_key) == slot]

    # -- the algorithm ----------------------------------------------------------------------
    def _replayed(self, study: Study, trials: list[FrozenTrial], columns: "Columns",
                  members: list[list]) -> _Run:
        """The algorithm told every closed generation: the one in memory, stepped on, when it
        has been told the same members so far; otherwise rebuilt from generation 0."""
        from ._run import Replay

        sign = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0
                         for d in study.directions])
        by_number = {t.number: t for t in trials}
        key = (study_id(study), columns.key, len(sign))
        run = self._run
        if run is None or run.key != key or run.told != members[:len(run.told)]:
            initial = [o for n in members[0]
                       if (o := self._observation(by_number[n], columns, sign)) is not None]
            replay = Replay(self._algorithm, columns, len(sign), initial,
                            _seed(by_number[n].params for n in members[0]),
                            self._population_size, self._n_offsprings, self._n_neighbors)
            run = _Run(key, replay, [members[0]])
        while len(run.told) < len(members):
            gen = members[len(run.told)]
            run.replay.tell([None if n is None else
                             self._observation(by_number[n], columns, sign) for n in gen])
            run.told.append(gen)
        self._run = run
        return run

    @staticmethod
    def _observation(t: FrozenTrial, columns: "Columns",
                     sign: np.ndarray) -> "Observation | None":
        """The trial as the algorithm sees it (None: its parameters are not in the space)."""
        from ._run import Observation

        x = columns.encode(t.params)
        if x is None:
            return None
        cv = sum(max(float(c), 0.0) if math.isfinite(float(c)) else 1e30
                 for c in t.constraints.values())
        return Observation(x, np.asarray(t.values, dtype=float) * sign,
                           float(cv))


def _numbers(members: list[list]) -> set[int]:
    """The trial numbers named in the members of closed generations."""
    return {n for gen in members for n in gen if n is not None}


def _seed(params: Any) -> int:
    """A 63-bit seed from generation 0's parameter dicts (in member order)."""
    text = json.dumps([dict(sorted(p.items())) for p in params], default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
