"""One study's pymoo algorithm, stepped with ask and tell, one generation of trials at a time.

:class:`Replay` holds a pymoo algorithm set up on the study's search space (:class:`Columns`):
it starts from the evaluated initial population (generation 0), hands out the offspring pymoo
asks for (:meth:`Replay.offspring`), and takes each generation's evaluations back with
:meth:`Replay.tell`. Everything it does is a function of its ``seed`` and the observations it
is told, in order: rebuilt from a study's trials it reaches the same state, so a resumed study
or another worker continues exactly where the last one left.

Observations are in minimisation form: ``f = values * (+1 minimise, -1 maximise)`` and ``cv``
the total constraint violation (sum of the positive ``trial.constraints``), given to pymoo as
one inequality constraint ``G = [cv]``, so its constrained domination (NSGA-II, NSGA-III,
SMS-EMOA, AGE-MOEA: feasible before infeasible, less violation first) applies. pymoo's MOEA/D
takes no constraints: there an infeasible design's objectives are replaced by the worst
feasible ones seen so far plus ``cv`` in every objective, and a failed trial by those plus
the largest violation seen plus one, so that under its Tchebycheff decomposition (used for any
number of objectives, since PBI would not keep that order) an infeasible or failed design never
replaces a feasible neighbour, and a smaller violation beats a larger one.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination

from ._space import Columns, MixedCrossover, MixedMutation, SeenElimination

__all__ = ["ALGORITHMS", "Observation", "Replay", "reference_directions"]

#: The pymoo algorithms run by :class:`Replay`.
ALGORITHMS = ("nsga2", "nsga3", "moead", "smsemoa", "agemoea")
_RETRIES = 10  # MOEA/D: re-mutations of a child that repeats a known design


@dataclass(frozen=True)
class Observation:
    """One evaluated design: its row, objectives in minimisation form, total violation."""

    x: np.ndarray
    f: np.ndarray
    cv: float


@functools.lru_cache(maxsize=16)
def reference_directions(n_obj: int, n: int) -> np.ndarray:
    """``n`` reference directions for ``n_obj`` objectives: Das-Dennis with ``n - 1``
    partitions for two objectives (exactly ``n``, evenly spaced), Riesz energy (pymoo's
    ``"energy"``, fixed seed) for more; one objective: ``n`` copies of ``[1]``."""
    from pymoo.util.ref_dirs import get_reference_directions

    if n_obj == 1:
        return np.ones((n, 1))
    if n_obj == 2:
        return get_reference_directions("das-dennis", 2, n_partitions=n - 1)
    return get_reference_directions("energy", n_obj, n, seed=1)


def _make(name: str, population_size: int, n_offsprings: int, n_neighbors: int, n_obj: int,
          columns: Columns, initial: Population) -> Any:
    """The pymoo algorithm ``name`` with the mixed-variable operators, starting from the
    evaluated population ``initial``."""
    ops: dict[str, Any] = dict(sampling=initial, crossover=MixedCrossover(columns),
                               mutation=MixedMutation(columns), n_offsprings=n_offsprings)
    if name == "nsga2":
        from pymoo.algorithms.moo.nsga2 import NSGA2

        return NSGA2(pop_size=population_size, **ops)
    if name == "nsga3":
        from pymoo.algorithms.moo.nsga3 import NSGA3
        from pymoo.operators.selection.tournament import TournamentSelection

        # One objective: U-NSGA-III's tournament (pymoo's UNSGA3, made for that case):
        # NSGA-III's own picks feasible parents at random, no pressure with one niche.
        tournament = _cv_niche_rank if n_obj == 1 else _cv_then_random
        return NSGA3(reference_directions(n_obj, population_size), pop_size=population_size,
                     selection=TournamentSelection(func_comp=tournament), **ops)
    if name == "moead":
        from pymoo.algorithms.moo.moead import ParallelMOEAD
        from pymoo.decomposition.tchebicheff import Tchebicheff

        return ParallelMOEAD(reference_directions(n_obj, population_size),
                             n_neighbors=n_neighbors, decomposition=Tchebicheff(), **ops)
    if name == "smsemoa":
        from pymoo.algorithms.moo.sms import SMSEMOA

        if n_obj == 1:  # a 1-D hypervolume contribution is the value: truncation by value
            from pymoo.algorithms.soo.nonconvex.ga import FitnessSurvival

            ops["survival"] = FitnessSurvival()  # (pymoo's contributions need 2+ objectives)
        return SMSEMOA(pop_size=population_size, **ops)
    if name == "agemoea":
        from pymoo.algorithms.moo.age import AGEMOEA

        return AGEMOEA(pop_size=population_size, **ops)
    raise ValueError(f"algorithm must be one of {list(ALGORITHMS)}, got {name!r}")


def _cv_then_random(pop: Population, P: np.ndarray,
                    random_state: np.random.Generator | None = None,
                    **kwargs: Any) -> np.ndarray:
    """NSGA-III's binary tournament (pymoo's ``comp_by_cv_then_random``): the smaller
    violation wins, otherwise a random one of the two; pymoo 0.6.2 draws the ties among
    infeasible pairs from an unseeded generator, which would make runs irreproducible, so
    this draws every tie from the algorithm's random state."""
    cv = pop.get("CV")[:, 0]
    a, b = cv[P[:, 0]], cv[P[:, 1]]
    coin = np.where(random_state.random(len(P)) < 0.5, P[:, 0], P[:, 1])
    decided = ((a > 0) | (b > 0)) & (a != b)
    return np.where(decided, np.where(a < b, P[:, 0], P[:, 1]), coin)[:, None].astype(int)


def _cv_niche_rank(pop: Population, P: np.ndarray,
                   random_state: np.random.Generator | None = None,
                   **kwargs: Any) -> np.ndarray:
    """U-NSGA-III's binary tournament (pymoo's ``comp_by_rank_and_ref_line_dist``, its ties
    drawn from the algorithm's random state as in :func:`_cv_then_random`): the smaller
    violation wins; two feasible ones of one niche, the better rank, then the one nearer the
    reference line; otherwise a random one of the two."""
    S = np.empty(len(P), dtype=int)
    for i, (a, b) in enumerate(P):
        ca, cb = pop[a].CV[0], pop[b].CV[0]
        win = None
        if ca > 0 or cb > 0:
            win = a if ca < cb else b if cb < ca else None
        elif pop[a].get("niche") == pop[b].get("niche"):
            for key in ("rank", "dist_to_niche"):
                va, vb = pop[a].get(key), pop[b].get(key)
                if va != vb:
                    win = a if va < vb else b
                    break
        S[i] = win if win is not None else (a if random_state.random() < 0.5 else b)
    return S[:, None]


class Replay:
    """A pymoo algorithm driven one generation at a time (see the module docstring).

    Args:
        name: one of :data:`ALGORITHMS`.
        columns: the search space's encoding.
        n_obj: number of objectives.
        initial: the evaluated initial population (for ``moead`` exactly ``population_size``).
        seed: the algorithm's random seed.
        population_size: pymoo's ``pop_size`` (MOEA/D: the number of weight vectors).
        n_offsprings: offspring per generation (MOEA/D: at most ``population_size``).
        n_neighbors: MOEA/D's neighbourhood size.
    """

    def __init__(self, name: str, columns: Columns, n_obj: int, initial: list[Observation],
                 seed: int, population_size: int, n_offsprings: int, n_neighbors: int) -> None:
        self.columns = columns
        self.seed = seed
        self.n_offsprings = n_offsprings
        self.generation = 0
        self._penalise = name == "moead"
        self._fmax: np.ndarray | None = None     # worst objectives of feasible designs told
        self._fmax_all = np.full(n_obj, -np.inf)  # ... and of all designs told
        self._cvmax = 0.0
        pop0 = self._population(Population.new("X", np.array([o.x for o in initial])),
                                initial)
        problem = Problem(n_var=columns.n_var, n_obj=n_obj,
                          n_ieq_constr=0 if self._penalise else 1, xl=columns.xl,
                          xu=columns.xu)
        self.algorithm = _make(name, population_size, n_offsprings, n_neighbors, n_obj,
                               columns, pop0)
        self._seen = {tuple(o.x) for o in initial}
        if not self._penalise:  # MOEA/D's mating must make exactly one child per weight
            self.algorithm.mating.eliminate_duplicates = SeenElimination(self._seen)
        self.algorithm.setup(problem, seed=seed, termination=NoTermination(), verbose=False)
        self._tell(self.algorithm.ask())  # the initial population, already evaluated
        self._next_generation()

    # -- ask ---------------------------------------------------------------------------------
    def offspring(self, slot: int) -> np.ndarray:
        """The row of offspring ``slot`` of the current generation. Slots ``0 ..
        n_offsprings - 1`` are the algorithm's own offspring, the ones it will be told about;
        later slots (workers that asked before the generation was complete) come from the
        same mating in a copy of the algorithm, reseeded per block of ``n_offsprings``."""
        block, i = divmod(slot, self.n_offsprings)
        if block not in self._blocks:
            alg = copy.deepcopy(self.algorithm)
            alg.random_state = np.random.default_rng([self.seed, self.generation, block])
            if not self._penalise:
                alg.mating.eliminate_duplicates.seen.update(map(tuple, self._blocks[0]))
            self._blocks[block] = self._rows(alg.ask(), block, alg)
        return self._blocks[block][i]

    def _next_generation(self) -> None:
        self.generation += 1
        off = self.algorithm.ask()
        self._blocks = {0: self._rows(off, 0, self.algorithm)}
        n = 0 if off is None else len(off)
        if n < self.n_offsprings:  # the mating ran out of new designs: random ones added
            pad = Population.new("X", self._blocks[0][n:])
            off = pad if off is None else Population.merge(off, pad)
        self._off = off

    def _rows(self, off: Population | None, block: int, alg: Any) -> np.ndarray:
        """The offspring's rows, topped up to ``n_offsprings`` with random designs when the
        mating could not make that many new ones (a nearly exhausted discrete space). MOEA/D
        makes one child per weight vector without pymoo's duplicate elimination, so there a
        child that repeats an evaluated design (or an earlier child) is mutated again, up to
        ``_RETRIES`` times, with the algorithm's own mutation and random state."""
        X = np.zeros((0, self.columns.n_var)) if off is None else off.get("X")
        missing = self.n_offsprings - len(X)
        if missing > 0:
            rng = np.random.default_rng([self.seed, self.generation, block, 1])
            X = np.concatenate([X, self.columns.random(missing, rng)])
        X = self.columns.repair(X)
        if self._penalise:
            taken = set(self._seen)
            for i in range(len(X)):
                for _ in range(_RETRIES):
                    if tuple(X[i]) not in taken:
                        break
                    X[i] = alg.mating.mutation._do(None, X[i:i + 1],
                                                   random_state=alg.random_state)[0]
                taken.add(tuple(X[i]))
        return X

    # -- tell --------------------------------------------------------------------------------
    def tell(self, observations: list[Observation | None]) -> None:
        """The current generation's evaluations, one per primary slot (None: failed, or not
        evaluated), then the next generation's offspring are asked for."""
        if len(observations) != self.n_offsprings:
            raise ValueError(f"expected {self.n_offsprings} observations, "
                             f"got {len(observations)}")
        keep = [i for i, o in enumerate(observations) if o is not None or self._penalise]
        infills = self._off[keep]
        if keep:
            infills.set("X", np.array([observations[i].x if observations[i] is not None
                                       else self._blocks[0][i] for i in keep]))
        self._population(infills, [observations[i] for i in keep])
        self._seen.update(tuple(o.x) for o in observations if o is not None)
        self._tell(infills)
        self._next_generation()

    def _tell(self, infills: Population) -> None:
        # AGE-MOEA's survival divides by a zero distance on purpose (a point at the ideal
        # point gets an infinite crowding distance); numpy would warn at every generation.
        with np.errstate(divide="ignore"):
            self.algorithm.tell(infills=infills)

    def _population(self, pop: Population,
                    observations: list[Observation | None]) -> Population:
        """``pop`` with F (and G) set from ``observations`` (penalised for MOEA/D)."""
        if not observations:
            return pop
        seen = [o for o in observations if o is not None]
        if seen:
            F = np.array([o.f for o in seen])
            feasible = np.array([o.cv <= 0 for o in seen])
            self._fmax_all = np.maximum(self._fmax_all, F.max(axis=0))
            if feasible.any():
                worst = F[feasible].max(axis=0)
                self._fmax = worst if self._fmax is None else np.maximum(self._fmax, worst)
            self._cvmax = max(self._cvmax, max(o.cv for o in seen))
        if not self._penalise:
            pop.set("F", np.array([o.f for o in observations]),
                    "G", np.array([[o.cv] for o in observations]))
            return pop
        base = self._fmax if self._fmax is not None else self._fmax_all
        pop.set("F", np.array([base + self._cvmax + 1.0 if o is None
                               else o.f if o.cv <= 0 else base + o.cv for o in observations]))
        return pop
