"""The Optuna objective that evaluates joint designs of a space for an objective set (one
design, or a population with one cost-model call); the objective sets themselves are in
:mod:`moo_cosearch.objectives._set` (TOML format there)."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .._interrupts import held
from ._gate import Gate
from ._trials import batch_heartbeats, reporter
from ._set import ObjectiveSet, ObjectivesError, load_objectives
from ..accuracy import NETWORK_ATTR, CachedAccuracy, accuracy_range, make_accuracy
from ..hardware import CostBackend, get_backend
from ..networks import list_families, network_identity
from ..samplers.seam import heartbeat_interval, record_heartbeats
from ..space import DEFAULT_VIEW

if TYPE_CHECKING:
    import optuna

    from ..space import JointSpace

__all__ = ["Evaluation", "Objective", "make_objective"]

#: ``gate`` left out: a :class:`Gate` that skips repeats of a design another trial holds.
_DEFAULT_GATE: Any = object()

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one design: objective values, constraints, and attributes."""

    values: tuple[float, ...]
    constraints: dict[str, float]
    attrs: dict[str, Any]

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.constraints.values())

    @property
    def failed(self) -> bool:
        """Whether the evaluation raised (:meth:`Objective.failed`: NaN values, the message
        in ``attrs["error"]``)."""
        return "error" in self.attrs


class Objective:
    """Evaluate joint designs: cost model first, accuracy only for designs that pass the hard
    limits. Call it as an Optuna objective (``study.optimize(objective)``), use
    :meth:`evaluate` on a design dict, or :meth:`evaluate_many` on a population (one
    cost-model call for the batch: any strategy that proposes a population, e.g. the pymoo
    problem of :func:`moo_cosearch.make_problem`).

    Constraint values follow Optuna (``<= 0`` feasible): ``feasible`` is 1 when the cost model
    says the network cannot run on the accelerator; a limit ``metric <= L`` gives
    ``(value - L) / |L|``. Designs that fail either are recorded with ``accuracy_evaluated =
    False``, and their accuracy objective is 0 (the worst possible), the reward 0.
    """

    def __init__(self, space: "JointSpace", objectives: ObjectiveSet,
                 accuracy: Callable[[Mapping[str, Any]], float] | None = None,
                 cost: CostBackend | None = None, catch_errors: bool = True,
                 view: str | None = None, gate: Gate | None = _DEFAULT_GATE) -> None:
        self.space = space
        self.view = view
        #: Refuses repeated designs / trials over budget before evaluation (:class:`Gate`);
        #: the default skips repeats of a design another trial holds; None evaluates all.
        self.gate: Gate | None = Gate() if gate is _DEFAULT_GATE else gate
        #: ``report(step, value)`` of the trial being evaluated by ``__call__`` (None in
        #: batches): sources that train report each epoch; Optuna's pruner may stop them.
        self._report: Callable[[int, float], None] | None = None
        self._views: dict[str, str] = {}
        self.objectives = objectives
        self.cost = cost if cost is not None else get_backend(objectives.cost)
        used = set(objectives.metric_names) | {c.metric for c in objectives.constraints}
        missing = sorted(used - {"accuracy", "reward"} - set(self.cost.metrics))
        if missing:
            raise ObjectivesError(f"cost backend {self.cost.name!r} gives metrics "
                                  f"{list(self.cost.metrics)}; objective set "
                                  f"{objectives.name!r} also needs {missing}")
        source = accuracy
        if source is None and objectives.needs_accuracy:
            source = make_accuracy(objectives.accuracy, space=space)
        nas = [p.name for p in space.params if p.group == "nas"]
        identity = None
        if space.network in list_families():
            family = space.network
            identity = lambda d: network_identity(family, d)  # noqa: E731
        self.accuracy = (CachedAccuracy(source, nas, accuracy_range(objectives.accuracy),
                                        identity) if source is not None else None)
        self.catch_errors = catch_errors
        self.limits = [(c, self._resolve(c.max if c.max is not None else c.min, c.metric))
                       for c in objectives.constraints]
        if objectives.reward is not None:
            r = objectives.reward
            self._reward_targets = (float(r.latency_ms), self._resolve(r.area_mm2, "area_mm2"))
        self.skipped = 0
        #: user attrs written to each trial when it starts (e.g. which run holds it)
        self.tags: dict[str, Any] = {}

    def with_gate(self, gate: Gate | None, tags: Mapping[str, Any] | None = None
                  ) -> "Objective":
        """This objective (sharing its cost model, accuracy source and caches) behind another
        gate: a worker's run gives each run its own budget and count of skipped repeats;
        ``tags``: user attrs each trial gets when it starts."""
        other = copy.copy(self)
        other.gate = gate
        other.tags = dict(tags or {})
        return other

    def _resolve(self, limit: float | str, metric: str) -> float:
        if limit == "baseline":
            return self.cost.reference(metric)
        if isinstance(limit, str) or not math.isfinite(float(limit)) or float(limit) == 0:
            raise ObjectivesError(f"a limit for {metric} must be a finite non-zero number or "
                                  f"'baseline', got {limit!r}")
        return float(limit)

    @property
    def directions(self) -> list[str]:
        return self.objectives.directions

    def constraint_names(self) -> list[str]:
        return ["feasible"] + [f"{c.metric}{'<=' if c.max is not None else '>='}{lim:g}"
                               for c, lim in self.limits]

    def _violations(self, metrics: Mapping[str, float]) -> list[float]:
        out = []
        for c, lim in self.limits:
            v = metrics.get(c.metric, 0.0)
            out.append((v - lim) / abs(lim) if c.max is not None else (lim - v) / abs(lim))
        return out

    def evaluate(self, design: Mapping[str, Any]) -> Evaluation:
        """Cost, then (unless pruned) accuracy, then objectives and constraints of one design.

        Raises:
            Exception: whatever failed (an off-grid design, a cost model error or non-finite
                cost, an accuracy source error); ``__call__`` records it as a failed trial.
        """
        outcome = self._evaluate_batch([design])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def preflight(self, seed: int = 0) -> None:
        """Evaluate one design of the space (drawn with ``seed``) with every error raised, the
        accuracy source included even where the cost model would prune the design: a space,
        objective set, cost backend and accuracy source that do not fit together fail here,
        before the first trial, instead of failing every trial.

        Raises:
            ObjectivesError: one line naming what failed and why.
        """
        design = self.space.sample(1, seed=seed)[0]
        try:
            self.evaluate(design)
            if self.accuracy is not None:
                self.accuracy(design)
        except Exception as e:  # noqa: BLE001 - reported as one configuration error
            raise ObjectivesError(
                f"space {self.space.name!r} with objective set {self.objectives.name!r} "
                f"(cost {self.cost.name!r}) fails on a sample design: "
                f"{type(e).__name__}: {e}") from None

    def evaluate_many(self, designs: Sequence[Mapping[str, Any]]) -> list[Evaluation]:
        """:meth:`evaluate` for a population, with one cost-model call for the whole batch.

        The same rules as one design at a time, design by design: accuracy only for designs
        that are hardware-feasible and within the hard limits, through the same per-network
        cache. With ``catch_errors`` (the default) a design whose evaluation fails gets NaN
        values, NaN constraints (so it is not :attr:`Evaluation.feasible`) and the message in
        ``attrs["error"]``, as ``__call__`` records a failed trial, and the rest of the batch is
        evaluated; without it the first failure is raised. A cost-model call that fails for the
        batch is retried design by design, so one bad design does not fail the others.
        """
        out = []
        for outcome in self._evaluate_batch(designs):
            if isinstance(outcome, Exception):
                if not self.catch_errors:
                    raise outcome
                out.append(self.failed(outcome))
            else:
                out.append(outcome)
        return out

    def failed(self, error: BaseException) -> Evaluation:
        """The :class:`Evaluation` recorded for a design whose evaluation raised ``error``."""
        nan = float("nan")
        return Evaluation(values=(nan,) * len(self.directions),
                          constraints={k: nan for k in self.constraint_names()},
                          attrs={"error": f"{type(error).__name__}: {error}"})

    def _evaluate_batch(self, designs: Sequence[Mapping[str, Any]]
                        ) -> list[Evaluation | Exception]:
        """The shared path of :meth:`evaluate` and :meth:`evaluate_many`: per design its
        :class:`Evaluation`, or the exception its evaluation raised."""
        outcomes: list[Evaluation | Exception | None] = [None] * len(designs)
        valid: list[tuple[int, dict[str, Any]]] = []
        for i, d in enumerate(designs):
            try:
                valid.append((i, self.space.validate(d)))
            except Exception as e:  # noqa: BLE001 - this design fails, not the batch
                outcomes[i] = e
        costs = self._costs([d for _, d in valid])
        for (i, design), cost in zip(valid, costs):
            try:
                if isinstance(cost, Exception):
                    raise cost
                outcomes[i] = self._complete(design, *cost)
            except Exception as e:  # noqa: BLE001
                outcomes[i] = e
        return outcomes  # type: ignore[return-value]  # every slot is filled

    def _costs(self, designs: list[dict[str, Any]]
               ) -> list[tuple[dict[str, float], bool, str] | Exception]:
        """(metrics, hardware-feasible, reason) per design from one cost-model call; a call
        failing for the batch is retried design by design to isolate the failure."""
        if not designs:
            return []
        try:
            res = self.cost(self.space, designs)
            if len(res) != len(designs):
                raise ValueError(f"cost backend {self.cost.name!r} returned {len(res)} results "
                                 f"for {len(designs)} designs")
            columns = {m: res.metric(m) for m in self.cost.metrics}
        except Exception as e:  # noqa: BLE001
            if len(designs) == 1:
                return [e]
            return [c for d in designs for c in self._costs([d])]
        return [({m: float(col[k]) for m, col in columns.items()}, bool(res.feasible[k]),
                 res.reason[k]) for k in range(len(designs))]

    def _complete(self, design: dict[str, Any], metrics: dict[str, float], hw_ok: bool,
                  reason: str) -> Evaluation:
        """Accuracy (unless pruned), objectives and constraints of a priced design."""
        bad = [m for m, v in metrics.items() if not math.isfinite(v)]
        if bad:
            why = "" if hw_ok else f" (infeasible: {reason})"
            raise ValueError(f"cost model returned non-finite {bad[0]} = {metrics[bad[0]]}{why}")
        attrs: dict[str, Any] = dict(metrics, hw_feasible=hw_ok)
        names = self.constraint_names()
        over = [n for n, (c, _), v in zip(names[1:], self.limits, self._violations(metrics))
                if c.metric != "accuracy" and v > 0]
        skip = ""
        if not hw_ok:
            skip = f"infeasible: {reason}"
        elif over:
            skip = "over a hard limit: " + ", ".join(over)
        if self.accuracy is not None and not skip:
            attrs["accuracy_cached"] = design in self.accuracy
            metrics["accuracy"] = self.accuracy(design, report=self._report)
            attrs["accuracy"] = metrics["accuracy"]
            per_task = getattr(self.accuracy.fn, "last", None)   # multitask: each task's
            if not attrs["accuracy_cached"] and isinstance(per_task, dict):
                attrs.update(per_task)
            attrs[NETWORK_ATTR] = self.accuracy.key(design)
        else:
            metrics["accuracy"] = 0.0
            if self.accuracy is not None:
                self.skipped += 1
        if self.accuracy is not None:   # cost-only sets have no accuracy evaluations to save
            attrs["accuracy_evaluated"] = not skip
        if skip:
            attrs["skip_reason"] = skip
        constraints = dict(zip(names, [0.0 if hw_ok else 1.0] + self._violations(metrics)))
        if self.objectives.reward is not None:
            values: tuple[float, ...] = (self._reward(metrics) if hw_ok else 0.0,)
        else:
            values = tuple(metrics[m] for m in self.objectives.metric_names)
        return Evaluation(values=values, constraints=constraints, attrs=attrs)

    def _reward(self, m: Mapping[str, float]) -> float:
        r = self.objectives.reward
        assert r is not None
        t_lat, t_area = self._reward_targets
        w0 = r.p if m["latency_ms"] <= t_lat else r.q
        w1 = r.p if m["area_mm2"] <= t_area else r.q
        return m["accuracy"] * (m["latency_ms"] / t_lat) ** w0 * (m["area_mm2"] / t_area) ** w1

    def _study_view(self, study: "optuna.Study") -> str:
        """The view the study was made with (``create_study`` records it), read once."""
        if study.study_name not in self._views:
            self._views[study.study_name] = study.user_attrs.get("view", DEFAULT_VIEW)
        return self._views[study.study_name]

    def __call__(self, trial: "optuna.trial.Trial") -> Sequence[float] | float:
        for key, value in self.tags.items():
            trial.set_user_attr(key, value)
        view = self.view or self._study_view(trial.study)
        design = self.space.suggest(trial, view)
        if view != "categorical":   # trial.params hold grid positions: keep the values too
            trial.set_user_attr("design", design)
        if self.gate is not None:
            self.gate.check(trial)  # a repeat, or over budget: pruned, not evaluated
        import optuna

        if self.accuracy is not None:
            self.accuracy.absorb(trial.study)   # other workers' and earlier runs' networks
        # Optuna reports intermediate values (for pruners) in single-objective studies only
        self._report = reporter(trial) if len(trial.study.directions) == 1 else None
        try:
            ev = self.evaluate(design)
        except optuna.TrialPruned:
            raise                # the pruner stopped a training source: PRUNED, not FAIL
        except Exception as e:  # noqa: BLE001 - a failing evaluation fails the trial, not the study
            if not self.catch_errors:
                raise
            ev = self.failed(e)   # NaN values: Optuna marks the trial FAIL
        finally:
            self._report = None
        self._record(trial, ev)
        return ev.values[0] if len(ev.values) == 1 else list(ev.values)


    def _record(self, trial: "optuna.trial.Trial", ev: Evaluation) -> None:
        """Write an evaluation's attrs and constraints to its trial (a failed one: the
        error)."""
        if ev.failed:
            trial.set_user_attr("error", ev.attrs["error"])
            _log.warning("trial %d failed: %s", trial.number, ev.attrs["error"])
            return
        for k, v in ev.attrs.items():
            trial.set_user_attr(k, v)
        for k, v in ev.constraints.items():
            trial.set_constraint(k, v)

    def run_batch(self, study: "optuna.Study", n: int) -> list["optuna.trial.FrozenTrial"]:
        """The population path: ask ``n`` trials, price their designs with one cost-model call
        (:meth:`evaluate_many`), tell them all. For strategies that propose several designs
        at once (a generation, a policy batch); ``study.optimize(objective)`` remains the
        one-trial path. Repeats and trials over budget are told PRUNED, unevaluated."""
        import warnings

        with warnings.catch_warnings():   # it does beat: see batch_heartbeats
            warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used "
                                              "with Study.optimize")
            pending: list["optuna.trial.Trial"] = []     # asked, not yet told
            try:
                with batch_heartbeats(study, pending):   # as study.optimize beats for its trial
                    return self._run_batch(study, n, pending)
            except BaseException:     # an interrupt: close the batch's trials, as optimize does
                from optuna.trial import TrialState

                for trial in pending:
                    try:
                        study.tell(trial, state=TrialState.FAIL)
                    except Exception:  # noqa: BLE001 - the storage itself may be what failed
                        pass
                raise

    def _run_batch(self, study: "optuna.Study", n: int, pending: list["optuna.trial.Trial"]
                   ) -> list["optuna.trial.FrozenTrial"]:
        import optuna
        from optuna.trial import TrialState

        view = self.view or self._study_view(study)
        beats = bool(heartbeat_interval(study))
        told, asked, designs = [], [], []
        for _ in range(n):
            with held():              # an interrupt in ask would leave a trial no one closes
                trial = study.ask()
                pending.append(trial)
            if beats:                     # at once: a kill before the first beat would leave
                record_heartbeats(study, [trial])   # a trial that never goes stale
            for key, value in self.tags.items():
                trial.set_user_attr(key, value)
            design = self.space.suggest(trial, view)
            if view != "categorical":
                trial.set_user_attr("design", design)
            try:
                if self.gate is not None:
                    self.gate.check(trial, stop=False)
            except optuna.TrialPruned:
                told.append(study.tell(trial, state=TrialState.PRUNED))
                pending.remove(trial)
                continue
            asked.append(trial)
            designs.append(design)
        if self.accuracy is not None:
            self.accuracy.absorb(study)
        for trial, ev in zip(asked, self.evaluate_many(designs)):
            self._record(trial, ev)
            told.append(study.tell(trial, None if ev.failed else list(ev.values),
                                   state=TrialState.FAIL if ev.failed
                                   else TrialState.COMPLETE))
            pending.remove(trial)
        return told


def make_objective(space: "JointSpace", objectives: ObjectiveSet | str | Path, *,
                   accuracy: Callable[[Mapping[str, Any]], float] | None = None,
                   cost: CostBackend | str | None = None, catch_errors: bool = True,
                   view: str | None = None, gate: Gate | None = _DEFAULT_GATE) -> Objective:
    """The callable to hand to ``study.optimize``.

    Args:
        space: the joint space (``load_space(...)``).
        objectives: an :class:`ObjectiveSet`, a built-in set's name or a TOML path.
        accuracy: a user accuracy source ``design -> percent``, overriding the set's.
        cost: a backend (or its name) overriding the set's ``cost``.
        catch_errors: when True (default) an exception while evaluating marks the trial FAIL
            (with the message in its ``error`` user attr) and the study goes on.
        view: how ordered grids reach the sampler (:meth:`JointSpace.distributions_for`):
            ``"categorical"`` values or ``"index"`` grid positions (the design's values are
            then also kept in the trial's ``design`` user attr); default: the view the study
            was made with (:func:`~moo_cosearch.create_study` records the sampler's preferred
            one), ``"categorical"`` for a study made otherwise.
        gate: refuses (prunes) a trial before evaluation: a repeated design, or one over the
            study's budget (:class:`~moo_cosearch.objectives.Gate`); default ``Gate()``
            (repeats skipped, no budget); None evaluates every trial it is given.
    """
    obj = load_objectives(objectives)
    backend = get_backend(cost) if isinstance(cost, str) else cost
    return Objective(space, obj, accuracy=accuracy, cost=backend, catch_errors=catch_errors,
                     view=view, gate=gate)
