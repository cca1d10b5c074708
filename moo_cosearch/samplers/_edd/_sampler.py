"""Differentiable co-search (``edd``): EDD's Gumbel-softmax relaxation of the joint space,
descended through a predictor learned from the study's own trials.

Every searched parameter (NAS and hardware alike) is relaxed to a categorical distribution over
its levels (:mod:`._space`, parameters in sorted name order). Per trial, once
``n_startup_trials`` random designs are evaluated:

1. an MLP ensemble is fitted on the evaluated (COMPLETE) trials only, mapping a design's
   features to every objective and every constraint (:mod:`._model`); the first fit is
   cold, later ones continue from the previous weights (fewer epochs) while the space and the
   targets keep their shape;
2. the logits θ are descended for ``n_steps`` Adam steps on the expected loss of Gumbel-softmax
   relaxed designs: EDD's ``Acc_loss · Perf_loss + β · C^(RES − RES_ub)`` generalised to a
   product of normalised objective losses (or a Chebyshev scalarisation) plus an exponential
   penalty on predicted violations and on objectives beyond the reference point
   (:mod:`._search`). A ``relaxed_cost`` model (e.g. the
   trained MLP surrogate's ``predict_relaxed``) may replace the ensemble for the objectives it
   covers;
3. a discrete design is drawn from ``softmax(θ / τ)`` with the sampler's seeded generator,
   redrawn while it repeats an evaluated or pending design, and evaluated by the real
   evaluators (one trial, one design).

The temperature τ anneals geometrically from ``tau_start`` to ``tau_end`` over
``anneal_trials`` finished trials after the start-up, as a function of the number of finished
trials in the study, so resumed studies and several workers agree on it. θ starts from zero at
every trial and the predictor is refitted from the trials, so nothing the search needs lives
only in memory: a resumed study or a second worker on the same storage rebuilds it from the
storage (the in-memory warm start of the ensemble only saves epochs). Each proposal is stored
as the JSON trial system attr :data:`EDD_KEY` (params, phase, τ, training-set size), from which
other workers read the designs in flight.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from .._base import RelativeSampler
from ..seam import set_trial_system_attr
from ._search import SCALARISATIONS
from ._space import Relaxation
from .._scalarise import check_weights

if TYPE_CHECKING:
    import torch

    from ._model import Ensemble, Targets

__all__ = ["EDD_KEY", "EDDSampler", "RelaxedCost"]

#: Trial system attr holding the sampler's proposal and its context (JSON).
EDD_KEY = "moo_cosearch:edd"
#: ``f(probs) -> {metric: tensor (n,)}``; ``probs[j]`` is (n, k_j) level probabilities of the
#: j-th parameter of ``relaxed_params`` (the signature of ``Surrogate.predict_relaxed``).
RelaxedCost = Callable[[Sequence["torch.Tensor"]], Mapping[str, "torch.Tensor"]]


def _number_above(bound: float, strict: bool, **values: float) -> None:
    """ValueError unless each value is a finite number ``> bound`` (``>=`` unless strict)."""
    for name, v in values.items():
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and (v > bound if strict else v >= bound))
        if not ok:
            rule = f"a number {'>' if strict else '>='} {bound:g}"
            raise ValueError(f"{name} must be {rule}, got {v!r}")


def _at_least(minimum: int, **values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")


class EDDSampler(RelativeSampler):
    """EDD-style differentiable co-search as an Optuna sampler (see the module docstring).

    Args:
        seed: random seed (start-up designs, bootstrap and initial weights, Gumbel noise,
            scalarisation weights, the discrete draws).
        n_startup_trials: uniformly random designs before the predictor is used (at least two
            evaluated trials are needed either way).
        n_steps: Adam steps on the logits per trial.
        lr: their learning rate.
        n_gumbel: Gumbel-softmax draws per step.
        tau_start: temperature after the start-up (high: near-uniform draws, explore).
        tau_end: final temperature (low: near the logits' argmax, exploit).
        anneal_trials: finished trials after the start-up over which τ goes geometrically from
            ``tau_start`` to ``tau_end`` (it stays there afterwards).
        scalarisation: ``"product"`` (EDD's ``Acc_loss · Perf_loss``) or ``"chebyshev"``.
        weights: one non-negative weight per objective (product: exponents ``m · w / sum(w)``,
            so equal weights are EDD's plain product); default: drawn from a flat Dirichlet at
            every trial, so that successive trials aim at different parts of the Pareto front.
        beta: weight of the penalty ``β · (C ** excess - 1)`` on predicted constraint
            violations and on objectives predicted beyond the reference point.
        penalty_base: ``C``, the base of that penalty (> 1).
        margin: the ideal point lies ``margin`` times the observed range beyond the best value.
        reference_point: in the objectives' own units and directions (``create_study`` passes
            the objective set's): the nadir of the normalisation, and a bound penalised like
            a constraint, so that the search stays inside the hypervolume box (on
            ``nahas-mbv2-edge`` latency/area it otherwise chases extremes outside it); default:
            the worst evaluated values, no bound.
        ensemble_size: MLPs in the predictor ensemble.
        hidden: units of each of their two hidden layers.
        fit_epochs: full-batch AdamW epochs of a cold fit.
        refit_epochs: epochs of a fit warm-started from the previous trial's weights.
        fit_lr: AdamW learning rate of the fits.
        weight_decay: AdamW weight decay of the fits.
        max_levels: levels of an int / float parameter with more grid points (or unstepped).
        optimism: the objectives' predictions are the ensemble mean less ``optimism`` times
            the members' standard deviation (0: the mean, EDD's plain descent). On the
            single-objective ``nb201-nahas-reward-hard``, whose reward the ensemble ranks
            poorly (Kendall tau ~0.2 at 150 trials), 2 lifts the median best reward after 150
            trials from 92.7 to 93.7 (seeds 0-2; seeds 3-6: 92.9 to 93.7); on the
            multi-objective set it costs hypervolume (``nb201-edge``, 300 trials, seeds 0-2:
            2660 at 1 vs 2682 at 0).
        resample_tries: discrete draws per trial while they repeat an evaluated or pending
            design (then changes of 1, 2, ... parameters of the first draw, then uniform
            draws).
        relaxed_cost: optional differentiable cost model (:data:`RelaxedCost`), e.g. a trained
            ``Surrogate.predict_relaxed``; it replaces the ensemble for ``relaxed_objectives``.
        relaxed_objectives: the objectives ``relaxed_cost`` predicts, by metric name
            (``study.metric_names``, which ``create_study`` sets; ``study.set_metric_names``
            in a plain study); each must be a key of its output. Required with
            ``relaxed_cost``.
        relaxed_params: the searched parameter names in the order ``relaxed_cost`` takes its
            probability matrices (for a surrogate: ``[p.name for p in sur.schema.params]``,
            the space's order); default: sorted by name, the sampler's own order. Each matrix's
            columns follow the distribution's choices (ascending levels for ints / floats).
        ordered: name → ordered flag for categoricals (``create_study`` passes its space's);
            ordered parameters also get their level position as a predictor feature.
        torch_threads: torch CPU threads while proposing (restored afterwards).
        independent_sampler: for the first trial (before the search space is known) and for
            parameters outside the relative search space.
    """

    def __init__(self, *, seed: int | None = None, n_startup_trials: int = 10,
                 n_steps: int = 40, lr: float = 0.2, n_gumbel: int = 16,
                 tau_start: float = 5.0, tau_end: float = 0.1, anneal_trials: int = 100,
                 scalarisation: str = "product", weights: Sequence[float] | None = None,
                 beta: float = 1.0, penalty_base: float = 10.0, margin: float = 0.1,
                 reference_point: Sequence[float] | None = None, ensemble_size: int = 5,
                 hidden: int = 64, fit_epochs: int = 300, refit_epochs: int = 60,
                 fit_lr: float = 0.01, weight_decay: float = 1e-3, max_levels: int = 16,
                 optimism: float = 0.0, resample_tries: int = 20,
                 relaxed_cost: RelaxedCost | None = None,
                 relaxed_objectives: Sequence[str] | None = None,
                 relaxed_params: Sequence[str] | None = None,
                 ordered: Mapping[str, bool] | None = None, torch_threads: int = 1,
                 independent_sampler: BaseSampler | None = None) -> None:
        _at_least(0, n_startup_trials=n_startup_trials)
        _at_least(1, n_steps=n_steps, n_gumbel=n_gumbel, anneal_trials=anneal_trials,
                  ensemble_size=ensemble_size, hidden=hidden, fit_epochs=fit_epochs,
                  refit_epochs=refit_epochs, resample_tries=resample_tries,
                  torch_threads=torch_threads)
        _at_least(2, max_levels=max_levels)
        _number_above(0, True, lr=lr, tau_start=tau_start, tau_end=tau_end, margin=margin,
                      fit_lr=fit_lr)
        _number_above(0, False, beta=beta, weight_decay=weight_decay, optimism=optimism)
        _number_above(1, True, penalty_base=penalty_base)
        if tau_end > tau_start:
            raise ValueError(f"tau_end ({tau_end}) must not exceed tau_start ({tau_start})")
        if scalarisation not in SCALARISATIONS:
            raise ValueError(f"scalarisation must be one of {list(SCALARISATIONS)}, "
                             f"got {scalarisation!r}")
        check_weights(weights)
        if reference_point is not None and not all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in reference_point):
            raise ValueError(f"reference_point must be finite numbers, got {reference_point!r}")
        if relaxed_cost is not None and not callable(relaxed_cost):
            raise ValueError(f"relaxed_cost must be callable, got {relaxed_cost!r}")
        if (relaxed_cost is None) != (not relaxed_objectives):
            raise ValueError("relaxed_cost and relaxed_objectives go together: name the "
                             "objectives the relaxed cost model predicts")
        if relaxed_objectives is not None and (isinstance(relaxed_objectives, str) or not all(
                isinstance(o, str) for o in relaxed_objectives)):
            raise ValueError(f"relaxed_objectives must be a list of metric names, "
                             f"got {relaxed_objectives!r}")
        if relaxed_params is not None and relaxed_cost is None:
            raise ValueError("relaxed_params needs relaxed_cost")
        self._rng = np.random.default_rng(seed)
        self._n_startup = n_startup_trials
        self._n_steps, self._lr, self._n_gumbel = n_steps, lr, n_gumbel
        self._tau = (float(tau_start), float(tau_end), anneal_trials)
        self._kind = scalarisation
        self._weights = None if weights is None else np.asarray(weights, dtype=float)
        self._beta, self._base, self._margin = float(beta), float(penalty_base), float(margin)
        self._reference = None if reference_point is None else np.asarray(reference_point,
                                                                           dtype=float)
        self._fit = dict(members=ensemble_size, hidden=hidden, lr=fit_lr,
                         weight_decay=weight_decay)
        self._epochs = (fit_epochs, refit_epochs)
        self._max_levels = max_levels
        self._optimism = float(optimism)
        self._tries = resample_tries
        self._relaxed_cost = relaxed_cost
        self._relaxed_objectives = list(relaxed_objectives or [])
        self._relaxed_params = None if relaxed_params is None else list(relaxed_params)
        self._ordered = None if ordered is None else dict(ordered)
        self._threads = torch_threads
        super().__init__(independent_sampler or RandomSampler(seed=seed))
        self._warm: tuple[tuple, "Ensemble"] | None = None  # (shape key, last ensemble)

    # -- BaseSampler ------------------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._independent.reseed_rng()

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        # One proposal at a time per sampler: threads of one process (n_jobs > 1) read the
        # trials after the previous proposal is stored, and share the generator.
        with self._lock:
            relax = Relaxation(search_space, self._ordered, self._max_levels)
            trials = study.get_trials(deepcopy=False)
            finished = [t for t in trials if t.state.is_finished()]
            done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
                    and relax.covers(t.params) and all(math.isfinite(v) for v in t.values)
                    and all(math.isfinite(c) for c in t.constraints.values())]
            designs = [t.params for t in finished if relax.covers(t.params)]
            designs += [p for t in trials if t.state == TrialState.RUNNING
                        and t.number != trial.number
                        for p in [_pending_params(t)] if relax.covers(p)]
            seen = {r.tobytes() for r in relax.indices(designs)}
            tau = self.temperature(len(finished))
            if len(done) < max(self._n_startup, 2):
                phase, rows = "startup", relax.random(self._tries, self._rng)
            else:
                phase, rows = "model", self._model_rows(study, relax, done, tau)
            params = relax.design(self._pick(rows, seen, relax))
            info = {"params": params, "phase": phase, "tau": tau, "n_train": len(done)}
            set_trial_system_attr(study, trial, EDD_KEY, json.dumps(info, default=_plain))
        return params

    # -- one proposal -------------------------------------------------------------------------
    def temperature(self, n_finished: int) -> float:
        """τ after ``n_finished`` finished trials (see the module docstring)."""
        start, end, span = self._tau
        progress = min(max((n_finished - self._n_startup) / span, 0.0), 1.0)
        return float(start * (end / start) ** progress)

    def _pick(self, rows: np.ndarray, seen: set[bytes], relax: Relaxation) -> np.ndarray:
        """The first row not ``seen``; else the nearest new neighbour of the first row found
        by random changes of 1, then 2, ... parameters (10 tries per radius); else a new
        uniform design; else (a nearly exhausted space) the first row."""
        for row in rows:
            if row.tobytes() not in seen:
                return row
        free = np.flatnonzero(relax.sizes > 1)
        for attempt in range(10 * len(free)):
            row = rows[0].copy()
            for j in self._rng.choice(free, size=1 + attempt // 10, replace=False):
                row[j] = (row[j] + self._rng.integers(1, relax.sizes[j])) % relax.sizes[j]
            if row.tobytes() not in seen:
                return row
        for row in relax.random(100, self._rng):
            if row.tobytes() not in seen:
                return row
        return rows[0]

    def _model_rows(self, study: Study, relax: Relaxation, done: list[FrozenTrial],
                    tau: float) -> np.ndarray:
        """Discrete draws from the logits descended on the fitted predictor, torch limited
        to ``torch_threads`` meanwhile."""
        import torch

        from ._search import sample_rows

        threads = torch.get_num_threads()
        torch.set_num_threads(self._threads)
        try:
            theta = self._descend(study, relax, done, tau)
        finally:
            torch.set_num_threads(threads)
        return sample_rows(theta, relax.mask, tau, self._tries, self._rng)

    def _descend(self, study: Study, relax: Relaxation, done: list[FrozenTrial],
                 tau: float) -> np.ndarray:
        import torch

        from ._model import Targets, fit_ensemble
        from ._search import Scalariser, optimise_logits

        targets = Targets.from_trials(done, study.directions)
        feat = relax.feature_matrix()
        X = relax.one_hot(relax.indices([t.params for t in done])) @ feat
        Y = np.concatenate([targets.Z, targets.U], axis=1)
        gen = torch.Generator().manual_seed(int(self._rng.integers(2 ** 62)))
        key = (relax.signature, Y.shape[1])
        warm = self._warm[1] if self._warm is not None and self._warm[0] == key else None
        model = fit_ensemble(X, Y, epochs=self._epochs[warm is not None], gen=gen, warm=warm,
                             **self._fit)
        self._warm = (key, model)
        m = targets.Z.shape[1]
        weights = (self._rng.dirichlet(np.ones(m)) if self._weights is None
                   else self._weights / self._weights.sum())
        if len(weights) != m:
            raise ValueError(f"weights need one value per objective ({m}), got {len(weights)}")
        reference = None
        if self._reference is not None:
            if len(self._reference) != m:
                raise ValueError(f"reference_point needs one value per objective ({m}), "
                                 f"got {len(self._reference)}")
            reference = np.array([targets.loss_form_value(i, v)
                                  for i, v in enumerate(self._reference)])
        scal = Scalariser.from_targets(targets, reference, weights, kind=self._kind,
                                       margin=self._margin, beta=self._beta, base=self._base)
        predict = self._predictor(study, relax, model, targets, feat)
        return optimise_logits(relax.mask, predict, scal, tau=tau, steps=self._n_steps,
                               lr=self._lr, samples=self._n_gumbel, gen=gen)

    def _predictor(self, study: Study, relax: Relaxation, model: "Ensemble", targets: "Targets",
                   feat: np.ndarray) -> Callable:
        """probs (S, n_params, width) → (loss forms (S, m), violations (S, q)): the ensemble,
        with ``relaxed_cost``'s predictions for the objectives it covers."""
        import torch

        mask = torch.as_tensor(relax.mask)
        feat_t = torch.as_tensor(feat, dtype=torch.float32)
        m = targets.Z.shape[1]
        covered = self._covered(study, relax)

        def predict(probs: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
            out = model.predict(probs[:, mask] @ feat_t, self._optimism, m)
            z, v = out[:, :m], torch.expm1(torch.relu(out[:, m:]))
            if covered:
                mats = [probs[:, j, :relax.sizes[j]] for j in covered[0]]
                cost = self._relaxed_cost(mats)  # type: ignore[misc]
                cols = [targets.loss_form(i, cost[key].reshape(-1).to(z.dtype))
                        if key is not None else z[:, i] for i, key in enumerate(covered[1])]
                z = torch.stack(cols, dim=1)
            return z, v

        return predict

    def _covered(self, study: Study, relax: Relaxation
                 ) -> tuple[list[int], list[str | None]] | None:
        """``relaxed_cost``'s parameter positions (in ``relax``) and, per objective, the
        output key that replaces it (None: the ensemble's)."""
        if self._relaxed_cost is None:
            return None
        order = self._relaxed_params or list(relax.names)
        if sorted(order) != sorted(relax.names):
            raise ValueError(f"relaxed_params {order} must name exactly the searched "
                             f"parameters {list(relax.names)}")
        names = list(study.metric_names or [])
        unknown = [o for o in self._relaxed_objectives if o not in names]
        if unknown:
            raise ValueError(f"relaxed_objectives {unknown} are not metric names of the "
                             f"study ({names})")
        keys = [n if n in self._relaxed_objectives else None for n in names]
        return [relax.names.index(n) for n in order], keys


def _pending_params(trial: FrozenTrial) -> dict[str, Any]:
    """Params of a RUNNING trial: those suggested so far plus what the sampler proposed."""
    stored = trial.system_attrs.get(EDD_KEY)
    params = dict(json.loads(stored)["params"]) if stored else {}
    params.update(trial.params)
    return params


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} {value!r} as a trial attribute")

