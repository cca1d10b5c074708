"""The ``edd`` sampler's loss, its Gumbel-softmax descent on the logits, and the final draw.

Loss of a relaxed design (EDD's Eq. 1, ``Acc_loss · Perf_loss + β · C^(RES − RES_ub)``,
generalised to any objectives and constraints), built by :class:`Scalariser` from the evaluated
trials:

- each objective's loss form ``z_i`` (:class:`~._model.Targets`: lower is better, log scale
  for objectives spanning more than a decade) is normalised as
  ``l_i = (z_i - ideal_i) / (nadir_i - ideal_i)``, where ``best_i`` is the best value among the
  feasible evaluated trials (all of them while none is feasible), ``nadir_i`` the reference
  point's loss form when it is given and worse than ``best_i``, else the worst evaluated value,
  and ``ideal_i = best_i - margin · (nadir_i - best_i)``. Evaluated designs inside the
  reference box thus have ``l_i`` in ``[margin / (1 + margin), 1]``; ``l_i`` is floored at
  ``1e-3`` (the product must stay positive);
- ``"product"`` (EDD's form): ``prod_i l_i ** e_i``, exponents ``e_i = m · w_i`` (equal weights:
  all ones, exactly EDD's ``Acc_loss · Perf_loss``); ``"chebyshev"``: ``max_i w_i l_i + 0.05 ·
  sum_i w_i l_i``;
- plus ``β · sum_j (C ** min(v_j, 10) - 1)`` over the predicted constraint violations
  ``v_j >= 0`` (zero where a constraint is predicted to hold; the exponent is capped so the
  penalty stays finite) and over ``l_i - 1 > 0`` for the objectives whose nadir is the
  reference point: like EDD's resource bound ``RES_ub``, the reference point bounds the search
  to the box where a design adds hypervolume (a scalarisation with a small weight on an
  objective otherwise chases the other objective's extreme far outside it).

:func:`optimise_logits` descends the expected loss over ``samples`` Gumbel-softmax draws
``softmax((θ + g) / τ)`` per step (Adam, from ``θ = 0``); :func:`sample_rows` then draws
discrete designs from ``softmax(θ / τ)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ._model import Adam, Targets

if TYPE_CHECKING:
    import torch

__all__ = ["SCALARISATIONS", "Scalariser", "optimise_logits", "sample_rows"]

SCALARISATIONS = ("product", "chebyshev")
_FLOOR = 1e-3        # smallest normalised objective loss
_MAX_EXPONENT = 10.0  # cap of a violation in the penalty's exponent


@dataclass(frozen=True)
class Scalariser:
    """One scalar loss per relaxed design (see the module docstring); call it with the loss
    forms ``z`` (S, m) and the violations ``v`` (S, q) to get (S,) losses."""

    ideal: np.ndarray
    nadir: np.ndarray
    bounded: np.ndarray
    weights: np.ndarray
    kind: str
    beta: float
    base: float

    @classmethod
    def from_targets(cls, targets: Targets, reference: np.ndarray | None, weights: np.ndarray,
                     *, kind: str, margin: float, beta: float, base: float) -> "Scalariser":
        """The normalisation from the evaluated trials' ``targets``; ``reference`` is the
        reference point in loss form (NaN where unusable), ``weights`` sum to 1."""
        Z = targets.Z
        rows = targets.feasible if targets.feasible.any() else np.ones(len(Z), dtype=bool)
        best = Z[rows].min(axis=0)
        bounded = np.zeros(len(best), dtype=bool)
        if reference is not None:
            bounded = np.isfinite(reference) & (reference > best)
        nadir = np.where(bounded, reference if reference is not None else 0.0, Z.max(axis=0))
        span = nadir - best
        span = np.where(span > 0, span, np.maximum(np.abs(best), 1.0) * 0.1)
        return cls(ideal=best - margin * span, nadir=best + span, bounded=bounded,
                   weights=weights, kind=kind, beta=beta, base=base)

    def normalised(self, z: "torch.Tensor") -> "torch.Tensor":
        """``l`` (S, m) of loss forms ``z`` (S, m), not floored."""
        import torch

        ideal = torch.as_tensor(self.ideal, dtype=z.dtype)
        nadir = torch.as_tensor(self.nadir, dtype=z.dtype)
        return (z - ideal) / (nadir - ideal)

    def __call__(self, z: "torch.Tensor", v: "torch.Tensor") -> "torch.Tensor":
        import torch

        norm = self.normalised(z)
        lo = torch.clamp(norm, min=_FLOOR)
        w = torch.as_tensor(self.weights, dtype=z.dtype)
        if self.kind == "product":
            loss = torch.exp((torch.log(lo) * (w * len(w))).sum(-1))
        else:
            loss = (lo * w).max(-1).values + 0.05 * (lo * w).sum(-1)
        excess = torch.cat([v, norm[:, torch.as_tensor(self.bounded)] - 1.0], dim=-1)
        if excess.shape[-1]:
            expo = torch.clamp(excess, min=0.0, max=_MAX_EXPONENT)
            loss = loss + self.beta * (torch.pow(self.base, expo) - 1.0).sum(-1)
        return loss


Predict = Callable[["torch.Tensor"], "tuple[torch.Tensor, torch.Tensor]"]


def optimise_logits(mask: np.ndarray, predict: Predict, loss: Callable[..., "torch.Tensor"],
                    *, tau: float, steps: int, lr: float, samples: int,
                    gen: "torch.Generator") -> np.ndarray:
    """Logits θ (n_params, width) after ``steps`` Adam steps on the mean loss of ``samples``
    Gumbel-softmax draws per step, from ``θ = 0``.

    Args:
        mask: (n_params, width) True where a level exists (padding is never drawn).
        predict: level probabilities (S, n_params, width) → (loss forms (S, m), violations
            (S, q)), differentiable.
        loss: the :class:`Scalariser`.
        tau: Gumbel-softmax temperature.
        steps: Adam steps.
        lr: Adam learning rate.
        samples: Gumbel draws per step.
        gen: torch generator of the Gumbel noise.
    """
    import torch

    neg = torch.where(torch.as_tensor(mask), 0.0, float("-inf"))
    theta = torch.zeros(mask.shape, requires_grad=True)
    opt = Adam([theta], lr=lr)
    for _ in range(steps):
        u = torch.rand((samples, *mask.shape), generator=gen).clamp_(1e-10, 1 - 1e-7)
        g = -torch.log(-torch.log(u))
        probs = torch.softmax((theta + g) / tau + neg, dim=-1)
        opt.step(loss(*predict(probs)).mean())
    return theta.detach().numpy().astype(float)


def sample_rows(theta: np.ndarray, mask: np.ndarray, tau: float, n: int,
                rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of level indices drawn independently per parameter from
    ``softmax(θ / τ)`` (padding excluded)."""
    logits = np.where(mask, theta / tau, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((n, mask.shape[0], 1))
    idx = (u > cum[None]).sum(axis=-1)
    return np.minimum(idx, mask.sum(axis=1)[None, :] - 1)
