"""A vectorised pymoo problem for a joint space and an objective set: :func:`make_problem`.

pymoo minimises every objective and wants constraints as ``G <= 0``;
:func:`make_problem` does that mapping from the objective set, so that any pymoo algorithm
searches exactly what ``study.optimize(make_objective(space, objectives))`` does:

- ``F``: the objective set's values, maximised ones (accuracy, the NAHAS reward) negated;
- ``G``: the constraint values the Optuna objective records with ``trial.set_constraint`` (the
  same names and order, :meth:`CoSearchProblem.constraint_names`): ``feasible`` (1 when the
  network does not fit the accelerator, else 0) and one normalised violation per hard limit;
- early pruning as in :meth:`Objective.evaluate`: accuracy only for designs that are
  hardware-feasible and within the hard limits (the others get accuracy 0, and a positive
  ``G``);
- one :meth:`Objective.evaluate_many` call per population: one batched cost-model call,
  accuracy through the per-network cache;
- a design whose evaluation fails gets ``F = G = +inf`` (infeasible, never preferred); its
  message is in the ``attrs`` pymoo keeps per individual (``res.pop.get("attrs")``).

Variables are **integer grid indices**: one per searched parameter of the space (fixed ones are
filled in), ``x_j`` in ``0 .. len(choices) - 1``. The problem carries both forms pymoo needs:

- ``vars`` for ``MixedVariableGA`` (and other mixed-variable algorithms): ordered grids (PE
  counts, memory sizes, …) as ``Integer`` indices, so mutation moves to neighbouring levels;
  unordered ones (op names) as ``Choice`` over the indices, so no order is implied; pymoo then
  hands ``_evaluate`` one dict per individual;
- ``xl = 0``, ``xu = len(choices) - 1`` arrays and ``vtype=int`` for array algorithms on an
  integer encoding, e.g. ``NSGA2(pop_size=40, **problem.integer_operators())`` (integer random
  sampling, SBX and polynomial mutation rounded back onto the grid); pymoo then hands
  ``_evaluate`` an ``(n, n_var)`` array (non-integer entries are rounded and clipped).

Why indices and not ``Choice`` over the real values (as ``JointSpace.to_pymoo`` does): array
algorithms (NSGA2, NSGA3, …) need numeric bounds, which ``Choice`` does not have, and one
encoding for both keeps ``res.X`` of either kind decodable by :meth:`CoSearchProblem.designs`.

:meth:`CoSearchProblem.designs` turns either form (``res.X``) back into design dicts, and
:meth:`JointSpace.indices <moo_cosearch.space.JointSpace.indices>` designs into rows of ``X``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from ..hardware import CostBackend, get_backend
from ..objectives import Evaluation, Objective, ObjectiveSet, load_objectives

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["CoSearchProblem", "make_problem"]


def make_problem(space: "JointSpace", objectives: ObjectiveSet | str | Path | Objective, *,
                 accuracy: Callable[[Mapping[str, Any]], float] | None = None,
                 cost: CostBackend | str | None = None,
                 catch_errors: bool = True) -> "CoSearchProblem":
    """A vectorised pymoo ``Problem`` searching ``space`` for ``objectives``.

    Args:
        space: the joint space (``load_space(...)``).
        objectives: an :class:`ObjectiveSet`, a built-in set's name or a TOML path (as for
            :func:`~moo_cosearch.make_objective`), or an :class:`Objective` to share (its
            accuracy cache and ``skipped`` count); then ``accuracy`` and ``cost`` must be None.
        accuracy: a user accuracy source ``design -> percent``, overriding the set's.
        cost: a backend (or its name) overriding the set's ``cost``.
        catch_errors: when True (default) a design whose evaluation fails gets ``F = G =
            +inf`` and the run goes on; when False the error is raised (an :class:`Objective`
            passed in keeps its own ``catch_errors``).

    Returns:
        a :class:`CoSearchProblem` (see the module docstring for ``F``, ``G`` and ``X``).

    Example::

        from pymoo.algorithms.moo.nsga2 import RankAndCrowding
        from pymoo.core.mixed import MixedVariableGA
        from pymoo.optimize import minimize

        problem = make_problem(load_space("nb201-edge"), "nb201-cifar10-latency-area")
        res = minimize(problem, MixedVariableGA(pop_size=40, survival=RankAndCrowding()),
                       ("n_gen", 20), seed=0)
        pareto = problem.designs(res.X)
    """
    if isinstance(objectives, Objective):
        if accuracy is not None or cost is not None:
            raise ValueError("make_problem: give accuracy / cost to make_objective, not with an "
                             "Objective")
        if objectives.space is not space:
            raise ValueError(f"make_problem: the objective evaluates space "
                             f"{objectives.space.name!r}, not {space.name!r}")
        objective = objectives
    else:
        backend = get_backend(cost) if isinstance(cost, str) else cost
        objective = Objective(space, load_objectives(objectives), accuracy=accuracy,
                              cost=backend, catch_errors=catch_errors)
    return _problem_class()(objective)


def __getattr__(name: str) -> Any:
    if name == "CoSearchProblem":  # lazy: pymoo is imported on first use, not by the package
        return _problem_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _problem_class() -> type:
    """``CoSearchProblem``: :class:`_CoSearchProblem` on pymoo's ``Problem``."""
    from pymoo.core.problem import Problem

    cls = type("CoSearchProblem", (_CoSearchProblem, Problem),
               {"__module__": __name__, "__doc__": _CoSearchProblem.__doc__})
    cls.__qualname__ = "CoSearchProblem"  # pickles as moo_cosearch.problems.CoSearchProblem
    return cls


class _CoSearchProblem:
    """The pymoo problem of an :class:`Objective` (made by :func:`make_problem`), a
    ``pymoo.core.problem.Problem`` (vectorised).

    Attributes:
        objective: the :class:`Objective` evaluating the designs (its ``evaluate_many``).
        space: the joint space.
        searched: the searched parameters, in the order of the columns of ``X``.
        sign: per objective, +1 (minimised) or -1 (maximised): ``F = sign * values``.
    """

    def __init__(self, objective: Objective) -> None:
        from pymoo.core.variable import Choice, Integer

        self.objective = objective
        self.space = objective.space
        self.searched = tuple(p for p in self.space.params if not p.fixed)
        if not self.searched:
            raise ValueError(f"space {self.space.name!r} has no searched parameter")
        self.sign = np.array([-1.0 if d == "maximize" else 1.0 for d in objective.directions])
        self._constraint_names = objective.constraint_names()
        variables = {p.name: (Integer(bounds=(0, len(p.choices) - 1)) if p.ordered
                              else Choice(options=list(range(len(p.choices)))))
                     for p in self.searched}
        upper = np.array([len(p.choices) - 1 for p in self.searched], dtype=float)
        super().__init__(vars=variables, n_var=len(self.searched), n_obj=len(self.sign),
                         n_ieq_constr=len(self._constraint_names),
                         xl=np.zeros(len(self.searched)), xu=upper, vtype=int)

    @staticmethod
    def integer_operators() -> dict[str, Any]:
        """Sampling, crossover and mutation for array algorithms on the integer encoding:
        ``NSGA2(pop_size=40, **problem.integer_operators())`` (pymoo's integer recipe: SBX
        and polynomial mutation in floats, rounded back onto the grid)."""
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        return {"sampling": IntegerRandomSampling(),
                "crossover": SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                "mutation": PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair())}

    def constraint_names(self) -> list[str]:
        """Names of the columns of ``G`` (the Optuna objective's constraint names)."""
        return list(self._constraint_names)

    def indices(self, X: Any) -> np.ndarray:
        """``X`` (an (n, n_var) array, one dict per individual, or one of either) as an
        (n, n_var) int array of grid indices, rounded and clipped to the grids."""
        rows = np.atleast_1d(np.asarray(X, dtype=object if _is_dicts(X) else float))
        if rows.dtype == object:
            rows = np.array([[r[p.name] for p in self.searched] for r in rows], dtype=float)
        rows = np.atleast_2d(rows)
        if rows.shape[1] != len(self.searched):
            raise ValueError(f"X must have {len(self.searched)} columns (the searched "
                             f"parameters of {self.space.name!r}), got {rows.shape[1]}")
        return np.clip(np.rint(rows), 0, self.xu).astype(np.int64)

    def designs(self, X: Any) -> list[dict[str, Any]]:
        """Design dicts (fixed parameters included) of ``X`` in either form, e.g. ``res.X``."""
        return self.space.from_indices(self.indices(X))

    def evaluations(self, X: Any) -> list[Evaluation]:
        """The :class:`Evaluation` of each design of ``X`` (one batched call)."""
        return self.objective.evaluate_many(self.designs(X))

    def _evaluate(self, X: Any, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        evals = self.evaluations(X)
        n, m, k = len(evals), self.n_obj, self.n_ieq_constr
        F = np.full((n, m), np.inf)  # failed designs: +inf after the sign, worst everywhere
        G = np.full((n, k), np.inf)
        for i, ev in enumerate(evals):
            if "error" not in ev.attrs:
                F[i] = self.sign * np.asarray(ev.values, dtype=float)
                G[i] = [ev.constraints[c] for c in self._constraint_names]
        out["F"] = F
        out["G"] = G
        attrs = np.empty(n, dtype=object)
        attrs[:] = [ev.attrs for ev in evals]
        out["attrs"] = attrs


def _is_dicts(X: Any) -> bool:
    if isinstance(X, Mapping):
        return True
    arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    return arr.dtype == object and arr.size > 0 and isinstance(arr.flat[0], Mapping)
