"""Every built-in space × objective set as an OptunaHub-style benchmark problem, so any Optuna
sampler can be benchmarked on our joint spaces without this package's harness.

A :class:`Problem` has the interface of ``optunahub.benchmarks.BaseProblem`` with
``ConstrainedMixin`` (``search_space``, ``directions``, ``evaluate(params)``,
``evaluate_constraints(params)``, ``constraints_func(trial)``, and ``__call__(trial)`` as the
objective), without needing optunahub installed::

    import optuna
    from moo_cosearch.problems.hub import load_problem

    problem = load_problem("nb201-edge/nb201-cifar10-latency-area")
    study = optuna.create_study(directions=problem.directions,
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(problem, n_trials=100)

``__call__`` records the constraints the Optuna 5 way (``trial.set_constraint``, which every
Optuna sampler reads) and the costs as user attrs; ``constraints_func`` is there for samplers
written against older Optuna (give it to a sampler that also reads recorded constraints and
they are counted twice). ``evaluate`` alone (another framework's loop) gives the objective
values, ``evaluate_constraints`` the constraints. Parameters are the grid values (categorical view); ``reference_point``
is the objective set's, in minimisation form, for ``optuna``'s hypervolume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..objectives import Objective, ObjectiveSet, list_objectives, load_objectives, make_objective
from ..space import JointSpace, load_space

if TYPE_CHECKING:
    import optuna

__all__ = ["Problem", "list_problems", "load_problem"]


class Problem:
    """One space × objective set as a benchmark problem (see the module docstring).

    Args:
        space: a space, or a built-in name / TOML path.
        objectives: an objective set, or a built-in name / TOML path.
    """

    def __init__(self, space: JointSpace | str, objectives: ObjectiveSet | str) -> None:
        self.space = space if isinstance(space, JointSpace) else load_space(space)
        self.objectives = load_objectives(objectives)
        # gate=None: a benchmark evaluates what it is given, repeats included
        self.objective: Objective = make_objective(self.space, self.objectives, gate=None)

    @property
    def name(self) -> str:
        return f"{self.space.name}/{self.objectives.name}"

    def __repr__(self) -> str:
        return f"Problem({self.name!r})"

    @property
    def search_space(self) -> dict[str, "optuna.distributions.BaseDistribution"]:
        """The searched parameters as categorical distributions of their grid values."""
        return self.space.distributions_for("categorical")

    @property
    def directions(self) -> list["optuna.study.StudyDirection"]:
        from optuna.study import StudyDirection

        return [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
                for d in self.objectives.directions]

    @property
    def metric_names(self) -> list[str]:
        return self.objectives.metric_names

    @property
    def constraint_names(self) -> list[str]:
        """Names of :meth:`evaluate_constraints`' values, in order."""
        return self.objective.constraint_names()

    @property
    def reference_point(self) -> list[float] | None:
        """The objective set's reference point in minimisation form (maximised objectives
        negated), or None when it does not give every coordinate."""
        ref = self.objectives.reference_point
        if not set(self.metric_names) <= set(ref):
            return None
        return [-float(ref[m]) + 0.0 if d == "maximize" else float(ref[m])
                for m, d in self.objectives.objectives]

    def evaluate(self, params: Mapping[str, Any]) -> float | list[float]:
        """Objective values of a design (searched parameters; fixed ones are filled in).
        A design over a hard limit gets accuracy 0 (never evaluated), as in a study.

        Raises:
            ValueError: a parameter that is unknown, missing or off its grid.
        """
        values = list(self.objective.evaluate(params).values)
        return values[0] if len(values) == 1 else values

    def evaluate_constraints(self, params: Mapping[str, Any]) -> list[float]:
        """Constraint values of a design (feasible when all are ``<= 0``): hardware
        feasibility, then each limit of the objective set (:attr:`constraint_names`)."""
        return list(self.objective.evaluate(params).constraints.values())

    def constraints_func(self, trial: "optuna.trial.FrozenTrial") -> Sequence[float]:
        """For a sampler's ``constraints_func``: the recorded constraints of ``trial``, else
        those of its parameters."""
        if trial.constraints:
            return list(trial.constraints.values())
        return self.evaluate_constraints(trial.params)

    def __call__(self, trial: "optuna.trial.Trial") -> float | list[float]:
        """The Optuna objective: suggest, evaluate, record constraints and costs; a study made
        without metric names gets the objective set's (dashboards then show ``latency_ms``,
        not ``Objective 1``)."""
        if trial.study.metric_names is None:
            trial.study.set_metric_names(self.metric_names)
        design = self.space.suggest(trial, "categorical")
        ev = self.objective.evaluate(design)
        for key, value in ev.attrs.items():
            if isinstance(value, (int, float, bool, str)):
                trial.set_user_attr(key, value)
        for key, value in ev.constraints.items():
            trial.set_constraint(key, value)
        values = list(ev.values)
        return values[0] if len(values) == 1 else values


def list_problems() -> list[str]:
    """``"<space>/<objective set>"`` for every built-in objective set, with the space it names
    (any other pair a set fits loads with :func:`load_problem` too)."""
    return [f"{load_objectives(o).space}/{o}" for o in list_objectives()
            if load_objectives(o).space is not None]


def load_problem(name: str) -> Problem:
    """The problem ``"<space>/<objective set>"`` (built-in names or TOML paths), or an
    objective set's name alone (with the space it names).

    Raises:
        ValueError: an unknown space or objective set, or a pair that does not fit.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a problem is '<space>/<objective set>', got {name!r}")
    if "/" in name and not name.endswith(".toml"):
        space, _, objectives = name.rpartition("/")
    else:
        objectives, space = name, None
    obj = load_objectives(objectives)
    space = space or obj.space
    if space is None:
        raise ValueError(f"objective set {obj.name!r} names no space: give "
                         f"'<space>/{obj.name}'")
    problem = Problem(space, obj)
    try:
        problem.objective.preflight()
    except ValueError as e:
        raise ValueError(f"problem {name!r}: {e}") from None
    return problem
