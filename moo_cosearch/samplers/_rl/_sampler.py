"""The RL controllers' samplers: :class:`ReinforceSampler`, :class:`PPOSampler` (the design:
:mod:`._rl`; imported only when one is made, it imports optuna and, lazily, torch)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from .._base import RelativeSampler
from .._scalarise import check_scalarisation
from ..seam import set_trial_system_attr, storage_of

if TYPE_CHECKING:
    import torch

    from ._policy import ActionSpace

__all__ = ["LEARNING_RATES", "PPOSampler", "ReinforceSampler"]

#: Default Adam step per controller. One LSTM step moves every weight feeding a logit, so its
#: step is small: 0.01 beat 0.003 and 0.03 on an 8 x 5 categorical problem (100 trials). A
#: logits step moves each logit by about the step: 0.3 and 0.5 found that problem's optimum
#: sooner than 0.1, but on nb201-edge (200 trials, 4 seeds) 0.3 was below random search in
#: hypervolume and best NAHAS reward, 0.1 above it in hypervolume and level in reward.
LEARNING_RATES = {"lstm": 0.01, "logits": 0.1}

_SAMPLE, _UPDATE, _INIT = 0, 1, 2   # seed-sequence tags of the three random streams
_UNREADABLE_TRIES = 3               # samples that wait for an unreadable stored state


class ReinforceSampler(RelativeSampler):
    """RL controller trained by REINFORCE (the design: :mod:`._rl`).

    Args:
        seed: random seed (initial weights, each trial's draw, Chebyshev weights).
        controller: ``"lstm"`` (autoregressive, FNAS / NASAIC) or ``"logits"`` (independent
            per-parameter logits).
        hidden_size: LSTM state and action-embedding width.
        learning_rate: Adam step size (default :data:`LEARNING_RATES` of the controller: Adam
            restarts at each update, so its first step moves every weight by about this much).
        batch_size: finished trials per update.
        entropy_weight: weight of the policy's entropy in the loss (keeps it exploring).
        baseline_decay: decay of the moving-average reward baseline, in [0, 1).
        scalarisation: ``"chebyshev"`` (random weights per update) or ``"weighted"``
            (NASAIC's weighted sum) for several objectives.
        weights: one weight per objective (default: random for chebyshev, equal for
            weighted).
        penalty: reward lost per unit of constraint violation, plus once for infeasibility.
        bins: the most actions an int / float parameter is cut into.
        independent_sampler: for the first trial (no search space known yet) and parameters
            outside the relative search space (default: random).

    Attributes:
        policy: the torch policy (:mod:`._policy`), made at the first relative sample (or
            :meth:`load_state`) over the relative search space.
    """

    _algorithm = "reinforce"

    def __init__(self, *, seed: int | None = None, controller: str = "lstm",
                 hidden_size: int = 64, learning_rate: float | None = None, batch_size: int = 8,
                 entropy_weight: float = 0.01, baseline_decay: float = 0.8,
                 scalarisation: str = "chebyshev", weights: Sequence[float] | None = None,
                 penalty: float = 1.0, bins: int = 16,
                 independent_sampler: BaseSampler | None = None) -> None:
        from ._policy import CONTROLLERS

        if controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {list(CONTROLLERS)}, "
                             f"got {controller!r}")
        for name, value, low in (("hidden_size", hidden_size, 1), ("batch_size", batch_size, 1),
                                 ("bins", bins, 2)):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if learning_rate is None:
            learning_rate = LEARNING_RATES[controller]
        for name, value in (("learning_rate", learning_rate), ("entropy_weight", entropy_weight),
                            ("penalty", penalty)):
            if not np.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
                raise ValueError(f"{name} must be a finite number "
                                 f"{'> 0' if name == 'learning_rate' else '>= 0'}, "
                                 f"got {value!r}")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay!r}")
        check_scalarisation(scalarisation, weights)
        self._controller = controller
        self._hidden = int(hidden_size)
        self._lr = float(learning_rate)
        self._batch = int(batch_size)
        self._entropy_weight = float(entropy_weight)
        self._decay = float(baseline_decay)
        self._scalarisation = scalarisation
        self._weights = None if weights is None else [float(w) for w in weights]
        self._penalty = float(penalty)
        self._bins = int(bins)
        self._base = self._draw_base(seed)
        super().__init__(independent_sampler or RandomSampler(seed=seed))
        self._warned = False
        self._space: ActionSpace | None = None
        self.policy: Any = None
        self._baseline: float | None = None
        self._version = 0
        self._consumed: set[int] = set()
        self._sha: str | None = None      # digest of the state this sampler holds, if stored
        self._unreadable = 0              # consecutive failed reads of the stored state

    @staticmethod
    def _draw_base(seed: int | None) -> int:
        """The root of every random stream (OS entropy without a seed)."""
        return int(np.random.SeedSequence(seed).generate_state(1)[0])

    def _seed_for(self, tag: int, n: int) -> int:
        """A 64-bit seed for stream ``tag``, item ``n`` (a trial number or a version)."""
        return int(np.random.SeedSequence([self._base, tag, n]).generate_state(
            1, dtype=np.uint64)[0])

    # -- BaseSampler ----------------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._base = self._draw_base(None)
        self._independent.reseed_rng()

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        import torch

        from ._policy import ActionSpace
        from ._state import ACTIONS_KEY

        # One sample at a time per sampler: n_jobs threads share the policy and its updates.
        with self._lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)   # a few small matrices: more threads only contend
            try:
                space = ActionSpace(search_space, self._bins)
                if self._space is None or space.signature != self._space.signature:
                    self._reset(space)
                if self._sync(study):
                    self._learn(study)
                gen = torch.Generator().manual_seed(self._seed_for(_SAMPLE, trial.number))
                actions, logp = self.policy.sample(gen)
            finally:
                torch.set_num_threads(threads)
            set_trial_system_attr(
                study, trial, ACTIONS_KEY,
                {"sig": space.signature, "a": actions, "logp": logp, "v": self._version})
        return space.decode(actions)

    # -- state ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        """What a stored state must match to be loaded into this sampler."""
        assert self._space is not None
        return {"algorithm": self._algorithm, "controller": self._controller,
                "hidden_size": self._hidden, "signature": self._space.signature}

    def _reset(self, space: "ActionSpace") -> None:
        """A fresh policy over ``space`` (the search space is new or has changed)."""
        import torch

        from ._policy import make_policy

        self._space = space
        gen = torch.Generator().manual_seed(self._seed_for(_INIT, 0))
        self.policy = make_policy(self._controller, space.sizes, self._hidden, gen)
        self._baseline, self._version, self._consumed, self._sha = None, 0, set(), None

    def _sync(self, study: Study) -> bool:
        """Bring this sampler in step with the stored state; False while the stored state is
        newer but cannot be read (a write in progress): then it does not learn."""
        from ._state import read_header, read_state, write_state

        header, attrs = read_header(*storage_of(study))
        if header is None or header["sha"] == self._sha:
            self._unreadable = 0
            return True
        if header["version"] < self._version:   # a slower writer overwrote a newer state
            self._sha = write_state(*storage_of(study), self._state())
            return True
        stored = read_state(header, attrs)
        if stored is None:
            # A write in progress, or one whose writer died mid-way: after a few tries, go on
            # from this sampler's own state, numbered past the stored one so that its next
            # write replaces the unreadable state for every worker.
            self._unreadable += 1
            if self._unreadable < _UNREADABLE_TRIES:
                return False
            self._version = max(self._version, int(header["version"]))
            return True
        self._unreadable = 0
        if stored.meta != self._meta():
            if not self._warned:
                warnings.warn(f"{type(self).__name__}: the study's stored RL state was made "
                              f"with {stored.meta}, not {self._meta()}; starting a new "
                              f"policy, which replaces it at its first update", stacklevel=3)
                self._warned = True
            self._version = max(self._version, stored.version)  # stored versions only grow
            return True
        self.policy.load_state_dict(stored.weights)
        self._baseline, self._version = stored.baseline, stored.version
        self._consumed, self._sha = stored.consumed, header["sha"]
        return True

    def _state(self) -> Any:
        """This sampler's :class:`~._state.RLState`."""
        from ._state import RLState

        return RLState(self._meta(), dict(self.policy.state_dict()), self._baseline,
                       self._version, set(self._consumed))

    def load_state(self, study: Study) -> bool:
        """Load the study's stored state now (a sampler also does so before each sample):
        whether the policy then holds the stored state. False when nothing is stored, or it
        does not fit this sampler's options and search space, or it is being rewritten."""
        if self._space is None:
            from ._policy import ActionSpace

            space = {name: dist for name, dist in self._search_space.calculate(study).items()
                     if not dist.single()}
            if not space:
                return False
            self._reset(ActionSpace(space, self._bins))
        return self._sync(study) and self._sha is not None

    # -- learning -------------------------------------------------------------------------
    def _learn(self, study: Study) -> None:
        """One update per full batch of finished, unconsumed trials; then store the state.

        A trial counts when it is finished, carries actions of this action space and its
        params are their design. A PRUNED trial (e.g. refused as a repeat of an evaluated
        design) is rewarded as the COMPLETE trial with the same design, if there is one, and
        waits otherwise (for an original still running; a trial pruned for another reason
        never counts)."""
        import json

        from ._state import ACTIONS_KEY, write_state

        space = self._space
        assert space is not None
        trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        candidates = []
        for t in trials:
            rec = t.system_attrs.get(ACTIONS_KEY)
            if (t.state.is_finished() and t.number not in self._consumed
                    and isinstance(rec, dict) and rec.get("sig") == space.signature
                    and space.matches(rec["a"], t.params)):
                candidates.append((t, rec))
        if len(candidates) < self._batch:
            return
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        by_design = {json.dumps([t.params.get(n) for n in space.names]): t for t in complete}
        fresh = []
        for t, rec in candidates:
            rewarded = t if t.state in (TrialState.COMPLETE, TrialState.FAIL) else by_design.get(
                json.dumps([t.params[n] for n in space.names]))
            if rewarded is not None:
                fresh.append((t.number, rewarded, rec))
        if len(fresh) < self._batch:
            return
        while len(fresh) >= self._batch:
            self._update(study, fresh[:self._batch], complete)
            fresh = fresh[self._batch:]
        self._sha = write_state(*storage_of(study), self._state())

    def _update(self, study: Study, batch: list[tuple[int, FrozenTrial, dict]],
                complete: list[FrozenTrial]) -> None:
        """One policy update from ``batch``: (trial number, the trial whose values reward it,
        its actions record) triples."""
        import torch

        from .._scalarise import rewards

        rng = np.random.default_rng(self._seed_for(_UPDATE, self._version))
        r = rewards([t for _, t, _ in batch], study.directions, reference_trials=complete,
                    scalarisation=self._scalarisation, weights=self._weights,
                    penalty=self._penalty, rng=rng)
        base = float(r.mean()) if self._baseline is None else self._baseline
        adv = torch.tensor(r - base, dtype=torch.float32)
        actions = torch.tensor([rec["a"] for _, _, rec in batch], dtype=torch.long)
        old_logp = torch.tensor([float(rec["logp"]) for _, _, rec in batch])
        opt = torch.optim.Adam(self.policy.parameters(), lr=self._lr)
        for _ in range(self._epochs()):
            logp, entropy = self.policy.evaluate(actions)
            loss = self._loss(logp, old_logp, adv) - self._entropy_weight * entropy.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self._baseline = self._decay * base + (1 - self._decay) * float(r.mean())
        self._version += 1
        self._consumed |= {n for n, _, _ in batch}

    def _epochs(self) -> int:
        """Optimiser steps per update."""
        return 1

    def _loss(self, logp: "torch.Tensor", old_logp: "torch.Tensor",
              adv: "torch.Tensor") -> "torch.Tensor":
        """The policy-gradient loss (before the entropy bonus): REINFORCE's."""
        return -(adv * logp).mean()


class PPOSampler(ReinforceSampler):
    """RL controller trained by PPO with clipping (NAHAS); the options of
    :class:`ReinforceSampler` and:

    Args:
        clip: the clipping range ``eps`` of the probability ratio.
        ppo_epochs: optimiser steps over each batch.
    """

    _algorithm = "ppo"

    def __init__(self, *, seed: int | None = None, controller: str = "lstm",
                 hidden_size: int = 64, learning_rate: float | None = None, batch_size: int = 8,
                 entropy_weight: float = 0.01, baseline_decay: float = 0.8,
                 scalarisation: str = "chebyshev", weights: Sequence[float] | None = None,
                 penalty: float = 1.0, bins: int = 16, clip: float = 0.2, ppo_epochs: int = 4,
                 independent_sampler: BaseSampler | None = None) -> None:
        if not 0 < clip < 1:
            raise ValueError(f"clip must be in (0, 1), got {clip!r}")
        if int(ppo_epochs) != ppo_epochs or ppo_epochs < 1:
            raise ValueError(f"ppo_epochs must be an integer >= 1, got {ppo_epochs!r}")
        super().__init__(seed=seed, controller=controller, hidden_size=hidden_size,
                         learning_rate=learning_rate, batch_size=batch_size,
                         entropy_weight=entropy_weight, baseline_decay=baseline_decay,
                         scalarisation=scalarisation, weights=weights, penalty=penalty,
                         bins=bins, independent_sampler=independent_sampler)
        self._clip = float(clip)
        self._ppo_epochs = int(ppo_epochs)

    def _epochs(self) -> int:
        return self._ppo_epochs

    def _loss(self, logp: "torch.Tensor", old_logp: "torch.Tensor",
              adv: "torch.Tensor") -> "torch.Tensor":
        """PPO's clipped surrogate."""
        import torch

        ratio = torch.exp(logp - old_logp)
        clipped = torch.clamp(ratio, 1 - self._clip, 1 + self._clip)
        return -torch.min(ratio * adv, clipped * adv).mean()
