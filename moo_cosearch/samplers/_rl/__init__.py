"""RL controllers (``reinforce``, ``ppo``): a policy over every searched parameter, trained
from the trials' rewards, as in FNAS / NASAIC (REINFORCE) and NAHAS (PPO).

Per trial, the sampler (:mod:`._sampler`) draws one whole design from the policy
(:mod:`._policy`: an LSTM controller emitting one parameter's action per step, or
independent per-parameter logits) over the relative search space, cut into discrete actions.
The action indices and their log-probability are stored on the trial
(:data:`~._state.ACTIONS_KEY`), so the update can be computed by any worker from the study.
The first trial (no search space known yet) and parameters outside the relative search space
come from the independent sampler (random). If the relative search space changes, a new policy
starts over the new one (stored states and actions carry the action space's signature).

Updates: before each sample, the finished trials carrying actions that no update has consumed
yet are taken in trial-number order; each full batch of ``batch_size`` of them is one update.
A trial whose params are not its sampled design (an enqueued one) is never used; a PRUNED
repeat of an evaluated design (the product's gate refuses repeats unevaluated) is rewarded as
that design's COMPLETE trial, so a converging policy still learns from the designs it repeats.
Rewards come from :func:`._scalarise.rewards` (normalised against all COMPLETE trials; one
objective as is, several by a random-weight Chebyshev or a weighted sum; constraint violations
and failures penalised). The advantage is reward minus a moving-average baseline (initialised
to the first batch's mean, then ``b <- decay * b + (1 - decay) * mean(batch)``).

- REINFORCE: one Adam step on ``-mean(A * log pi(a)) - entropy_weight * mean(H)``;
- PPO: ``ppo_epochs`` Adam steps on the clipped surrogate
  ``-mean(min(r A, clip(r, 1 - eps, 1 + eps) A)) - entropy_weight * mean(H)``, with
  ``r = pi(a) / pi_old(a)`` against the log-probabilities stored when the trials were sampled.

Adam starts afresh at each update (no optimiser state to store: the stored state is the whole
state, so a resumed study or another worker continues exactly where the last update left off).

Persistence and several workers (:mod:`._state`): after its updates a sampler writes the
state (weights, baseline, update count ``version``, consumed trial numbers) to the study.
Before learning or sampling it reads the stored header: a newer state (or another writer's
state of the same version) replaces its own, an older one is overwritten by its own. It learns
only from a state at least as new as the stored one (never while the stored one cannot be
read), so trials an update consumed are not learnt again by a worker that has loaded it. Two
workers that update from the same state at the same instant learn the same batch and each
write a version: the last write wins and both continue from it.

Randomness: ``seed`` fixes the policy's initial weights; each trial's draw uses a generator
seeded by ``(seed, trial number)`` and each update's Chebyshev weights ``(seed, version)``, so
one worker with one seed gives the same trials every run, and workers sharing a seed still
draw different designs for their different trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._registry import check_options, register_sampler, require_modules

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__: list[str] = []


def _factory(algorithm: str):
    """A registry factory for the ``algorithm`` sampler (torch checked first, then the
    options, before the sampler is made)."""

    def make(seed: int | None = None, **options: Any) -> "BaseSampler":
        require_modules(algorithm, "torch")
        from ._sampler import PPOSampler, ReinforceSampler

        cls = PPOSampler if algorithm == "ppo" else ReinforceSampler
        check_options(cls, options)
        return cls(seed=seed, **options)

    return make


register_sampler("reinforce", _factory("reinforce"),
                 "RL controller (LSTM or logits) trained by REINFORCE, FNAS/NASAIC (ours)")
register_sampler("ppo", _factory("ppo"),
                 "RL controller (LSTM or logits) trained by clipped PPO, NAHAS (ours)")
