"""Multi-objective test problems as Optuna objectives, for the sampler benchmarks.

Every :class:`Problem` knows its search space (Optuna distributions), how to evaluate a parameter
dict (objective values in the problem's own directions, plus Optuna-style constraints: ``<= 0``
feasible), a hypervolume reference point in *minimisation form* (maximised objectives negated)
and, where known, the maximal hypervolume against that point.

    >>> from _problems import get_problem, hypervolume
    >>> p = get_problem("BraninCurrin")
    >>> study = optuna.create_study(directions=p.directions)
    >>> study.optimize(p.make_objective(), n_trials=30)
    >>> hypervolume(study, p) / p.max_hv

Problems (``PROBLEMS``):

- ``BraninCurrin``: 2 objectives, 2 floats in [0, 1]; BoTorch ``BraninCurrin`` (negate=False is the
  minimisation problem), its ref point (18, 6) and max_hv 59.36.
- ``DTLZ2``: d=6, M=3; BoTorch ``DTLZ2``, ref point 1.1^3, max_hv = 1.1^3 - pi/6 = 0.8074.
- ``DTLZ2-M2``: d=6, M=2; BoTorch ``DTLZ2``, ref point (1.1, 1.1), max_hv = 1.1^2 - pi/4 =
  0.4246.
- ``ZDT1``: d=10, 2 objectives; pymoo ``zdt1``, ref point (1.1, 1.1), max_hv from the pymoo Pareto
  front sampled at 10001 points (0.87662; the analytic value is 53/60 = 0.87667).
- ``C2DTLZ2``: d=6, M=2, one constraint; BoTorch ``C2DTLZ2`` (feasible when slack >= 0, so the
  Optuna constraint is ``-slack``), ref point (1.1, 1.1), max_hv 0.39964 (BoTorch's value,
  "approximated from NSGA-II"; a dense sampling of the constrained front gives 0.40005, so a
  very good run can score up to ~1.001 of it).
- ``nb201-edge``: the NB201 x edge-accelerator joint space with the objective set
  ``nb201-cifar10-latency-area`` (accuracy max, latency min, area min; constraints feasible,
  area <= baseline, latency <= 0.2 ms). Ref point from the objective set, accuracy negated.
  max_hv unknown: report the raw hypervolume.
- ``mbv2-41``: the speed problem, ``nahas-mbv2-edge`` (40 categorical parameters: 17 kernels,
  16 expansions, 7 accelerator parameters). Three minimised objectives: a synthetic
  accuracy-loss proxy ``100 - (65 + 10 ln(MACs / 1e8))`` (deterministic, MACs from
  ``networks.build_network`` + ``summarize``), ``latency_ms`` and ``area_mm2`` of the edge
  backend; one constraint ``feasible`` (1 when the edge model says the network cannot run on the
  accelerator, ~5% of random designs), as in the project's own objective sets. max_hv unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["Problem", "PROBLEMS", "get_problem", "list_problems", "hypervolume",
           "min_form", "suggest_params", "random_params"]

Evaluate = Callable[[Mapping[str, Any]], "tuple[list[float], dict[str, float]]"]


@dataclass
class Problem:
    """A benchmark problem.

    Attributes:
        name: problem name.
        directions: Optuna directions, one per objective.
        ref_point: hypervolume reference point in minimisation form.
        max_hv: hypervolume of the true Pareto front against ``ref_point``; None if unknown.
        n_params: number of searched parameters.
        description: one line.
        build: ``() -> (distributions, evaluate)``; called once, lazily (loads data, models).
    """

    name: str
    directions: list[str]
    ref_point: np.ndarray
    max_hv: float | None
    n_params: int
    description: str
    build: Callable[[], "tuple[dict[str, Any], Evaluate]"] = field(repr=False)
    _built: Any = field(default=None, init=False, repr=False)

    def _get(self) -> "tuple[dict[str, Any], Evaluate]":
        if self._built is None:
            self._built = self.build()
        return self._built

    @property
    def distributions(self) -> dict[str, Any]:
        """Optuna distributions of the searched parameters, in suggestion order."""
        return self._get()[0]

    def evaluate(self, params: Mapping[str, Any]) -> "tuple[list[float], dict[str, float]]":
        """``params -> (values in the problem's directions, constraints {name: <=0 feasible})``."""
        return self._get()[1](params)

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Suggest every parameter on an Optuna trial; returns the parameter dict."""
        return suggest_params(trial, self.distributions)

    def make_objective(self) -> Callable[[Any], list[float]]:
        """An Optuna objective ``trial -> values`` (calls ``trial.set_constraint`` as needed)."""

        def objective(trial: Any) -> list[float]:
            values, constraints = self.evaluate(self.suggest(trial))
            for k, v in constraints.items():
                trial.set_constraint(k, float(v))
            return values

        return objective

    @property
    def signs(self) -> np.ndarray:
        return np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])


def suggest_params(trial: Any, distributions: Mapping[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, FloatDistribution):
            out[name] = trial.suggest_float(name, d.low, d.high, log=d.log, step=d.step)
        elif isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
        elif isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, list(d.choices))
        else:
            raise TypeError(f"unsupported distribution {d!r}")
    return out


def random_params(distributions: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One uniformly random parameter dict (for filling a study without the sampler)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, FloatDistribution):
            out[name] = float(rng.uniform(d.low, d.high))
        elif isinstance(d, IntDistribution):
            out[name] = int(rng.integers(d.low, d.high + 1))
        elif isinstance(d, CategoricalDistribution):
            out[name] = d.choices[int(rng.integers(len(d.choices)))]
        else:
            raise TypeError(f"unsupported distribution {d!r}")
    return out


def min_form(values: Sequence[Sequence[float]], problem: Problem) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(-1, len(problem.directions)) * problem.signs


def hypervolume(trials_or_study: Any, problem: Problem) -> float:
    """Hypervolume of the feasible COMPLETE trials in minimisation form against
    ``problem.ref_point``; points that do not strictly dominate the ref point are dropped."""
    import moocore
    from optuna.trial import TrialState

    trials = (trials_or_study.get_trials(deepcopy=False)
              if hasattr(trials_or_study, "get_trials") else trials_or_study)
    pts = [t.values for t in trials
           if t.state == TrialState.COMPLETE and all(v <= 0 for v in t.constraints.values())
           and t.values is not None and all(math.isfinite(v) for v in t.values)]
    if not pts:
        return 0.0
    f = min_form(pts, problem)
    f = f[np.all(f < problem.ref_point, axis=1)]
    if len(f) == 0:
        return 0.0
    return float(moocore.hypervolume(f, ref=problem.ref_point))


# ---------------------------------------------------------------------------------------------
def _floats(d: int) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    return {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(d)}


def _botorch_build(make: Callable[[], Any], d: int, constrained: bool = False):
    def build():
        import torch

        fn = make()
        names = list(_floats(d))

        def evaluate(params: Mapping[str, Any]):
            x = torch.tensor([[float(params[n]) for n in names]], dtype=torch.double)
            with torch.no_grad():
                vals = fn.evaluate_true(x)[0].tolist()
                cons: dict[str, float] = {}
                if constrained:
                    slack = fn.evaluate_slack_true(x)[0].tolist()
                    cons = {f"c{i}": -float(s) for i, s in enumerate(slack)}  # slack>=0 feasible
            return vals, cons

        return _floats(d), evaluate

    return build


def _botorch_meta(make: Callable[[], Any]) -> tuple[np.ndarray, float]:
    fn = make()  # negate=False: the minimisation problem, ref point in minimisation form
    return fn.ref_point.numpy().astype(float).copy(), float(fn.max_hv)


def _branin_currin() -> Problem:
    from botorch.test_functions.multi_objective import BraninCurrin

    make = lambda: BraninCurrin(negate=False)  # noqa: E731
    ref, max_hv = _botorch_meta(make)
    return Problem("BraninCurrin", ["minimize"] * 2, ref, max_hv, 2,
                   "BoTorch BraninCurrin, 2 obj, 2 floats", _botorch_build(make, 2))


def _dtlz2(m: int = 3) -> Problem:
    from botorch.test_functions.multi_objective import DTLZ2

    make = lambda: DTLZ2(dim=6, num_objectives=m, negate=False)  # noqa: E731
    ref, max_hv = _botorch_meta(make)
    return Problem("DTLZ2" if m == 3 else f"DTLZ2-M{m}", ["minimize"] * m, ref, max_hv, 6,
                   f"BoTorch DTLZ2 d=6 M={m}", _botorch_build(make, 6))


def _c2dtlz2() -> Problem:
    from botorch.test_functions.multi_objective import C2DTLZ2

    make = lambda: C2DTLZ2(dim=6, num_objectives=2, negate=False)  # noqa: E731
    ref, max_hv = _botorch_meta(make)
    return Problem("C2DTLZ2", ["minimize"] * 2, ref, max_hv, 6,
                   "BoTorch C2DTLZ2 d=6 M=2, 1 constraint", _botorch_build(make, 6, True))


def _zdt1() -> Problem:
    import moocore
    from pymoo.problems import get_problem as pymoo_problem

    n_var = 10
    ref = np.array([1.1, 1.1])
    front = pymoo_problem("zdt1", n_var=n_var).pareto_front(n_pareto_points=10001, use_cache=False)
    max_hv = float(moocore.hypervolume(front, ref=ref))

    def build():
        prob = pymoo_problem("zdt1", n_var=n_var)
        names = list(_floats(n_var))

        def evaluate(params: Mapping[str, Any]):
            x = np.array([[float(params[n]) for n in names]])
            return prob.evaluate(x, return_as_dictionary=True)["F"][0].tolist(), {}

        return _floats(n_var), evaluate

    return Problem("ZDT1", ["minimize"] * 2, ref, max_hv, n_var, "pymoo ZDT1 d=10", build)


def _joint_distributions(space: Any) -> dict[str, Any]:
    return dict(space.distributions)  # searched params, in declaration order


def _nb201_edge() -> Problem:
    import moo_cosearch as mc

    objset = mc.load_objectives("nb201-cifar10-latency-area")
    ref = np.array([(-1.0 if d == "maximize" else 1.0) * float(objset.reference_point[m])
                    for m, d in objset.objectives], dtype=float)
    ref[ref == 0] = 0.0  # -0.0 → 0.0
    space = mc.load_space("nb201-edge")

    def build():
        obj = mc.make_objective(space, objset)

        def evaluate(params: Mapping[str, Any]):
            ev = obj.evaluate(params)
            return list(ev.values), dict(ev.constraints)

        return _joint_distributions(space), evaluate

    n = sum(1 for p in space.params if not p.fixed)
    return Problem("nb201-edge", list(objset.directions), ref, None, n,
                   f"nb201-edge x nb201-cifar10-latency-area, {n} categorical params, "
                   f"3 obj, 3 constraints", build)


MBV2_SPACE = "nahas-mbv2-edge"


def mbv2_accuracy_proxy(macs: float) -> float:
    """Synthetic top-1 accuracy (%) of a MobileNetV2 variant from its MACs (deterministic)."""
    return 65.0 + 10.0 * math.log(macs / 1e8)


def _mbv2() -> Problem:
    import moo_cosearch as mc

    space = mc.load_space(MBV2_SPACE)
    n = sum(1 for p in space.params if not p.fixed)

    def build():
        from moo_cosearch.networks import build_network, summarize

        backend = mc.get_backend("edge")

        def evaluate(params: Mapping[str, Any]):
            design = space.validate(params)
            macs, _ = summarize(build_network(space.network, design))
            res = backend(space, [design])
            vals = [100.0 - mbv2_accuracy_proxy(macs), float(res.latency_ms[0]),
                    float(res.area_mm2[0])]
            return vals, {"feasible": 0.0 if bool(res.feasible[0]) else 1.0}

        return _joint_distributions(space), evaluate

    return Problem("mbv2-41", ["minimize"] * 3, np.array([30.0, 0.5, 150.0]), None, n,
                   f"{MBV2_SPACE}: {n} categorical params (17 kernels, 16 expansions, 7 "
                   f"accelerator); loss proxy, latency_ms, area_mm2; 1 constraint", build)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "BraninCurrin": _branin_currin,
    "DTLZ2": _dtlz2,
    "DTLZ2-M2": lambda: _dtlz2(2),
    "ZDT1": _zdt1,
    "C2DTLZ2": _c2dtlz2,
    "nb201-edge": _nb201_edge,
    "mbv2-41": _mbv2,
}


def list_problems() -> list[str]:
    return list(PROBLEMS)


def get_problem(name: str) -> Problem:
    try:
        return PROBLEMS[name]()
    except KeyError:
        raise ValueError(f"problem must be one of {list(PROBLEMS)}, got {name!r}") from None
