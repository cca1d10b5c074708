"""qEHVI / qNEHVI as an Optuna sampler, built for speed on joint categorical spaces.

:class:`QEHVISampler` holds the options and the state carried between trials (random
generator, last GP hyperparameters, refit counter) and wires one proposal per trial
(:meth:`QEHVISampler._propose`), each step a private module (the maths:
``moo_cosearch/samplers/README.md``):

1. training data and pending designs from the trials: :mod:`._data`, encoded by
   :class:`~._encoding.Encoder`;
2. one batched GP over objectives and constraints, fast MAP fit on a refit schedule:
   :mod:`._gpfit`;
3. the discrete candidate pool, minus evaluated and pending designs: :mod:`._pool`;
4. the optimistic hypervolume pre-score of the whole pool: :mod:`._prescore`;
5. qLogEHVI / qLogNEHVI / qLogEI of the best ``n_rescore``: :mod:`._acquisition`;
6. discrete local search of the acquisition from the best ``n_local``: :mod:`._local`;
7. gradient refinement of the float parameters of the best few: :mod:`._refine`.

Designs being evaluated by other workers (RUNNING trials, shared through system attrs) enter as
pending points, so parallel workers on one storage do not propose the same design. Threads of
one process (``study.optimize(..., n_jobs=k)``) share the sampler: a per-sampler lock covers
reading the trials, proposing and writing the proposal, so each thread sees the designs the
others proposed before it. Start-up designs (random, from the independent sampler) are drawn
in the same way once the search space is known, redrawn while they repeat an evaluated or
pending design, and recorded too (:data:`~._data.STARTUP_KEY`).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from .._base import RelativeSampler
from ..seam import contains, set_trial_system_attr, trial_id
from ._encoding import Encoder
from ._data import PARAMS_KEY, STARTUP_KEY, observations, pending_params
from ._pool import Prescreen, candidate_pool, row_keys

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models import SingleTaskGP

__all__ = ["QEHVISampler"]


class QEHVISampler(RelativeSampler):
    """Multi-objective Bayesian optimisation with (noisy) expected hypervolume improvement.

    Args:
        seed: random seed (pools, MC base samples, start-up sampler).
        n_startup_trials: random trials before the model is used.
        noisy: use qLogNEHVI (integrates over the uncertainty of the observed front) instead of
            qLogEHVI (observed front taken as exact).
        n_candidates: size of the discrete candidate pool per trial.
        n_rescore: pool size scored by the MC acquisition after the optimistic pre-screen.
        mc_samples: quasi-MC samples of the acquisition.
        beta: optimism of the pre-screen (posterior mean + beta·std).
        refit_every: from ``refit_all_below`` observations on, hyperparameters are refitted
            (warm-started) every this many trials; between fits the model is conditioned on
            new data with the previous hyperparameters.
        refit_all_below: below this many observations, refit at every trial (cheap there, and
            stale hyperparameters cost much hypervolume early on: DTLZ2 median 0.58 with
            ``refit_every=5`` throughout vs 0.72 refitting every trial).
        fit_maxiter: L-BFGS iterations of a cold fit (first, or after the space changed).
        warm_maxiter: L-BFGS iterations of a warm-started refit.
        n_local: the best scored candidates moved by discrete local search of the acquisition
            (one parameter one step at a time, :mod:`._local`).
        local_sweeps: moves per local search at most (0: no local search).
        n_refine: for float parameters, the best pooled candidates refined by gradient ascent
            of the acquisition (L-BFGS-B over the float columns, discrete ones fixed).
        refine_maxiter: L-BFGS-B iterations of that refinement.
        reference_point: hypervolume reference point in the objectives' own units and
            directions (e.g. ``[0, 0.2]`` for maximised accuracy, minimised latency); default:
            the nadir of the feasible observations, 10% of their range below it.
        ordered: name → ordered flag for categoricals (:func:`moo_cosearch.create_study` passes
            its joint space's); a categorical not named is ordered when all its choices are
            numbers.
        prescreen: optional ``f(list of param dicts) -> bool array`` dropping candidates a cheap
            cost model already knows to be infeasible before acquisition scoring.
        device: torch device (default: CUDA when available, else CPU).
        torch_threads: torch CPU threads while proposing (restored afterwards); the matrices
            are small, and more threads mostly contend with each other and other workers.
        independent_sampler: for parameters outside the relative search space and start-up.
        startup_tries: start-up draws per trial at most while they repeat an evaluated or
            pending design (in a space that is nearly exhausted the last draw is kept).

    Proposals are distinct from the evaluated designs and those in flight (RUNNING trials of
    this or any worker sharing the storage): in one process the proposal is made under a
    per-sampler lock (so ``n_jobs`` threads propose one after another; the objective still
    runs in parallel); across processes two workers reading the storage at the same instant
    can still propose the same design.
    """

    def __init__(self, *, seed: int | None = None, n_startup_trials: int = 10,
                 noisy: bool = False, n_candidates: int = 4096, n_rescore: int = 64,
                 mc_samples: int = 128, beta: float = 1.0, refit_every: int = 5,
                 refit_all_below: int = 100,
                 fit_maxiter: int = 100, warm_maxiter: int = 25, n_local: int = 2,
                 local_sweeps: int = 4, n_refine: int = 4,
                 refine_maxiter: int = 50, reference_point: Sequence[float] | None = None,
                 ordered: Mapping[str, bool] | None = None,
                 prescreen: Prescreen | None = None,
                 device: str | None = None, torch_threads: int = 1,
                 independent_sampler: BaseSampler | None = None,
                 startup_tries: int = 100) -> None:
        self._startup_designs: dict[int, dict[str, Any]] = {}  # trial id -> start-up design
        self._startup_tries = max(1, startup_tries)
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._n_startup = n_startup_trials
        self._noisy = noisy
        self._n_candidates = n_candidates
        self._n_rescore = n_rescore
        self._mc = mc_samples
        self._beta = beta
        self._refit_every = max(1, refit_every)
        self._refit_all_below = refit_all_below
        self._fit_maxiter = fit_maxiter
        self._warm_maxiter = warm_maxiter
        self._n_local = max(0, n_local)
        self._local_sweeps = max(0, local_sweeps)
        self._n_refine = n_refine
        self._refine_maxiter = refine_maxiter
        self._reference_point = (None if reference_point is None
                                 else np.asarray(reference_point, dtype=float))
        self._sign = np.ones(0)
        self._ordered = None if ordered is None else dict(ordered)
        self._prescreen = prescreen
        self._device = device
        self._threads = torch_threads
        super().__init__(independent_sampler or RandomSampler(seed=seed))
        self._hyper = None  # GPHypers of the last fit: the warm start of the next
        self._hyper_key: tuple | None = None
        self._fits_since = 0
        self.last_timing: dict[str, float] = {}

    # -- BaseSampler ------------------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._independent.reseed_rng()

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        design = self._startup_designs.get(trial_id(trial))
        if design is not None and param_name in design:
            value = design[param_name]
            if contains(param_distribution, value):
                return value
        return self._independent.sample_independent(study, trial, param_name,
                                                    param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._startup_designs.pop(trial_id(trial), None)
        self._independent.after_trial(study, trial, state, values)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        # One proposal at a time per sampler: threads of one process (n_jobs > 1) would
        # otherwise read the trials at the same time and miss each other's proposals, written
        # only once proposed (and share the random generator and GP state mid-proposal).
        with self._lock:
            # Fresh from the storage: Study.get_trials bypasses the study's per-thread trial
            # cache, and optuna's _CachedStorage (RDB) re-reads every unfinished trial on each
            # call, so other workers' RUNNING trials and their proposals (system attrs) are
            # current.
            trials = study.get_trials(deepcopy=False,
                                      states=(TrialState.COMPLETE, TrialState.RUNNING))
            done = [t for t in trials if t.state == TrialState.COMPLETE
                    and search_space.keys() <= t.params.keys()]
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and t.number != trial.number
                       and search_space.keys() <= pending_params(t).keys()]
            startup = len(done) < self._n_startup
            if startup:
                params = self._startup(study, trial, done, running, search_space)
                # Start-up trials stay "independent" (sample_relative returns {}, as in the
                # other Optuna samplers); sample_independent hands out this design.
                self._startup_designs[trial_id(trial)] = params
            else:
                params = self._propose_model(study, done, running, search_space)
            set_trial_system_attr(study, trial, STARTUP_KEY if startup else PARAMS_KEY,
                                       json.dumps(params, default=_plain))
        return {} if startup else params

    def _propose_model(self, study: Study, done: list[FrozenTrial],
                       running: list[FrozenTrial],
                       search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """The model's proposal, torch limited to ``torch_threads`` while it is made."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(self._threads)  # small matrices: extra threads only contend
        try:
            return self._propose(study, done, running, search_space)
        finally:
            torch.set_num_threads(threads)

    def _startup(self, study: Study, trial: FrozenTrial, done: list[FrozenTrial],
                 running: list[FrozenTrial],
                 search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """A start-up design from the independent sampler, redrawn (``startup_tries`` at most)
        while it repeats an evaluated or pending design."""
        enc = Encoder(search_space, self._ordered)  # any exact encoding tells repeats apart
        designs = [t.params for t in done] + [pending_params(t) for t in running]
        seen = row_keys(enc.encode(designs)) if designs else set()
        for _ in range(self._startup_tries):
            params = {name: self._independent.sample_independent(study, trial, name, dist)
                      for name, dist in search_space.items()}
            if enc.encode([params])[0].tobytes() not in seen:
                break
        return params

    # -- one proposal -------------------------------------------------------------------------
    def _encoder(self, search_space: Mapping[str, BaseDistribution]) -> Encoder:
        """The encoding of ``search_space`` with this sampler's ``ordered`` flags."""
        return Encoder(search_space, self._ordered)

    def _propose(self, study: Study, done: list[FrozenTrial], running: list[FrozenTrial],
                 search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        import torch

        from ._acquisition import make_acquisition, make_partitioning

        t0 = time.perf_counter()
        self.last_timing = {}
        device = torch.device(self._device or ("cuda" if torch.cuda.is_available() else "cpu"))
        tkw = {"dtype": torch.float64, "device": device}
        enc = self._encoder(search_space)
        self._sign = np.array([1.0 if d == StudyDirection.MAXIMIZE else -1.0
                               for d in study.directions])
        X, Yobj, C, feasible = observations(enc, done, self._sign)
        m = Yobj.shape[1]
        pending = enc.encode([pending_params(t) for t in running]) if running else None

        Xt = torch.tensor(X, **tkw)
        model = self._fit(Xt, torch.tensor(np.concatenate([Yobj, C], axis=1), **tkw),
                          key=(enc.dim, m + C.shape[1]))
        t_fit = time.perf_counter()
        seen = row_keys(X if pending is None else np.concatenate([X, pending]))
        pool = candidate_pool(enc, X, Yobj, feasible, seen, self._n_candidates, self._rng,
                              self._prescreen)
        t_pool = time.perf_counter()
        partitioning = (None if m == 1 else
                        make_partitioning(self._ref_point(Yobj, feasible), Yobj, feasible, **tkw))
        acq = make_acquisition(model, Xt, Yobj, feasible, m, partitioning,
                               None if pending is None else torch.tensor(pending, **tkw),
                               mc=self._mc, seed=int(self._rng.integers(2 ** 31)),
                               noisy=self._noisy)
        best_x = self._score(enc, torch.tensor(pool, **tkw), model, acq, Yobj, feasible, m,
                             partitioning, seen)
        self.last_timing.update(fit_s=t_fit - t0, pool_s=t_pool - t_fit,
                                score_s=time.perf_counter() - t_pool)
        return enc.decode(best_x)

    def _fit(self, X: "torch.Tensor", Y: "torch.Tensor", key: tuple) -> "SingleTaskGP":
        """The GP on (X, Y), hyperparameters refitted or reused per the refit schedule."""
        from ._gpfit import apply_hypers, fit_gp_hypers, make_model, train_targets

        model = make_model(X, Y)
        warm = self._hyper is not None and self._hyper_key == key
        if (not warm or len(X) < self._refit_all_below
                or self._fits_since + 1 >= self._refit_every):
            self._hyper = fit_gp_hypers(X, train_targets(model), self._hyper if warm else None,
                                        self._warm_maxiter if warm else self._fit_maxiter,
                                        cold_maxiter=self._fit_maxiter)
            self._hyper_key = key
            self._fits_since = 0
        else:
            self._fits_since += 1
        apply_hypers(model, self._hyper)
        model.eval()
        return model

    def _ref_point(self, Yobj: np.ndarray, feasible: np.ndarray) -> np.ndarray:
        """The reference point in maximisation form (the user's, else inferred)."""
        from ._acquisition import reference_point

        return reference_point(Yobj, feasible, self._reference_point, self._sign)

    def _score(self, enc: Encoder, Xc: "torch.Tensor", model: "SingleTaskGP",
               acq: "AcquisitionFunction", Yobj: np.ndarray, feasible: np.ndarray, m: int,
               partitioning: Any, seen: set[bytes]) -> np.ndarray:
        """The encoded design to propose: optimistic pre-score of the pool, MC acquisition of
        the ``n_rescore`` best, local search from the ``n_local`` best, refinement of the
        ``n_refine`` best when there are floats."""
        import torch

        from ._acquisition import acquisition_values
        from ._local import local_search
        from ._prescore import optimistic_prescore
        from ._refine import float_columns, refine

        t0 = time.perf_counter()
        pre = optimistic_prescore(model, self._hyper, Xc, Yobj, feasible, m, partitioning,
                                  self._beta)
        cand = Xc[torch.topk(pre, min(self._n_rescore, len(Xc))).indices]
        t1 = time.perf_counter()
        vals = acquisition_values(acq, cand)
        self.last_timing.update(prescore_s=t1 - t0, acq_s=time.perf_counter() - t1)
        if self._n_local and self._local_sweeps:
            t2 = time.perf_counter()
            top = torch.topk(vals, min(self._n_local, len(vals))).indices
            moved, mvals = local_search(
                enc, cand[top], vals[top], acq, seen, self._local_sweeps,
                lambda rows: optimistic_prescore(model, self._hyper, rows, Yobj, feasible, m,
                                                 partitioning, self._beta),
                prescreen=self._prescreen)
            cand, vals = torch.cat([cand, moved]), torch.cat([vals, mvals])
            self.last_timing["local_s"] = time.perf_counter() - t2
        float_cols = float_columns(enc)
        if not float_cols:
            return cand[int(torch.argmax(vals))].cpu().numpy()
        t2 = time.perf_counter()
        starts = cand[torch.topk(vals, min(self._n_refine, len(vals))).indices]
        best = refine(enc, starts, acq, float_cols, seen, self._refine_maxiter, self._prescreen)
        self.last_timing["refine_s"] = time.perf_counter() - t2
        return best


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars an independent sampler may hand out."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} {value!r} as a trial attribute")
