"""The ``edd`` sampler's differentiable predictor: targets read from trials, and a small torch
MLP ensemble fitted on the study's evaluated trials only.

Targets (:class:`Targets`), all in a form where **lower is better** or **positive violates**:

- objective ``i`` in *loss form* ``z_i = s_i * t_i``: ``s_i = -1`` for a maximised objective,
  ``+1`` for a minimised one, and ``t_i = log(value)`` when every observed value is positive and
  they span more than a decade (latency, area: their spread is multiplicative), else the value;
- constraint ``j`` (Optuna's ``trial.constraints``, ``> 0`` violates) as
  ``u_j = sign(c) * log1p(|c|)``, which keeps the sign and tames large violations; the predicted
  violation is ``expm1(max(u_j, 0))``.

The ensemble (:class:`Ensemble`) has ``members`` MLPs (two SiLU hidden layers of ``hidden``
units) stored as batched weight tensors, so one batched matmul runs them all. Each member is
fitted by full-batch AdamW (:class:`Adam`) on the standardised targets with its own Poisson(1)
bootstrap weights per observation, so the members disagree where data are scarce. Inputs are the
:class:`~._space.Relaxation` features, which are linear in the level probabilities: a
relaxed design goes through the same network and gradients reach its probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import optuna
from optuna.trial import FrozenTrial

if TYPE_CHECKING:
    import torch

__all__ = ["Adam", "Ensemble", "Targets", "fit_ensemble", "symlog"]


def symlog(c: np.ndarray) -> np.ndarray:
    """``sign(c) * log1p(|c|)``: the constraint target."""
    return np.sign(c) * np.log1p(np.abs(c))


@dataclass(frozen=True)
class Targets:
    """Objectives in loss form and constraints as targets (see the module docstring).

    Attributes:
        Z: (n, m) objectives in loss form.
        U: (n, q) constraint targets of the constraints that varied.
        sign: (m,) +1 minimised, -1 maximised.
        log: (m,) whether objective ``i`` is modelled in log scale.
        feasible: (n,) whether each trial satisfies every constraint.
    """

    Z: np.ndarray
    U: np.ndarray
    sign: np.ndarray
    log: np.ndarray
    feasible: np.ndarray

    @classmethod
    def from_trials(cls, trials: Sequence[FrozenTrial],
                    directions: Sequence[optuna.study.StudyDirection]) -> "Targets":
        """Targets of COMPLETE trials with finite values and constraints (the caller keeps
        only those)."""
        sign = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0
                         for d in directions])
        V = np.array([t.values for t in trials], dtype=float).reshape(len(trials), len(sign))
        names = sorted({k for t in trials for k in t.constraints})
        C = np.array([[t.constraints.get(k, 0.0) for k in names] for t in trials],
                     dtype=float).reshape(len(trials), len(names))
        feasible = np.all(C <= 0, axis=1)
        log = np.array([bool(len(V)) and bool(np.all(V[:, i] > 0))
                        and V[:, i].max() > 10 * V[:, i].min() for i in range(len(sign))])
        T = np.where(log, np.log(np.where(V > 0, V, 1.0)), V)
        C = C[:, np.ptp(C, axis=0) > 0] if len(C) else C
        return cls(Z=T * sign, U=symlog(C), sign=sign, log=log, feasible=feasible)

    def loss_form(self, i: int, value: "torch.Tensor") -> "torch.Tensor":
        """Objective ``i``'s raw values (e.g. a relaxed cost model's output) in loss form."""
        import torch

        t = torch.log(torch.clamp(value, min=1e-12)) if self.log[i] else value
        return t * float(self.sign[i])

    def loss_form_value(self, i: int, value: float) -> float:
        """:meth:`loss_form` of one number; NaN when it has no log (non-positive value)."""
        if self.log[i]:
            return math.log(value) * self.sign[i] if value > 0 else math.nan
        return value * self.sign[i]


class Ensemble:
    """``members`` MLPs as batched tensors (see the module docstring); call it on features
    (n, n_in) to get standardised predictions (members, n, n_out), or :meth:`predict` for the
    ensemble mean in target units."""

    def __init__(self, weights: list["torch.Tensor"], y_mean: "torch.Tensor",
                 y_std: "torch.Tensor") -> None:
        self.weights = weights
        self.y_mean = y_mean
        self.y_std = y_std

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        w1, b1, w2, b2, w3, b3 = self.weights
        h = torch.nn.functional.silu(torch.matmul(x, w1) + b1)
        h = torch.nn.functional.silu(torch.bmm(h, w2) + b2)
        return torch.bmm(h, w3) + b3

    def predict(self, x: "torch.Tensor", optimism: float = 0.0,
                columns: int = 0) -> "torch.Tensor":
        """(n, n_out) ensemble-mean predictions in target units, differentiable in ``x``; the
        first ``columns`` (the objectives' loss forms) less ``optimism`` times the members'
        standard deviation (a lower confidence bound: uncertain designs look better)."""
        import torch

        out = self(x) * self.y_std + self.y_mean
        mean = out.mean(0)
        if not (optimism and columns and len(out) > 1):
            return mean
        bound = mean[:, :columns] - optimism * out[:, :, :columns].std(0)
        return torch.cat([bound, mean[:, columns:]], dim=1)


class Adam:
    """Adam with decoupled weight decay (AdamW), in a few tensor operations: the same update
    as ``torch.optim.AdamW``, without its first use importing ``torch._dynamo`` (2 s per
    process, more than a whole short study's fits) nor its per-step bookkeeping."""

    def __init__(self, params: list["torch.Tensor"], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.params = params
        self.lr, self.wd, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def step(self, loss: "torch.Tensor") -> None:
        """One update of the parameters down the gradient of ``loss``."""
        import torch

        grads = torch.autograd.grad(loss, self.params)
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, math.sqrt(1 - b2 ** self.t)
        with torch.no_grad():
            for p, g, m, v in zip(self.params, grads, self.m, self.v):
                if self.wd:
                    p.mul_(1 - self.lr * self.wd)
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.addcdiv_(m, v.sqrt().div_(c2).add_(self.eps), value=-self.lr / c1)


def _init(members: int, n_in: int, hidden: int, n_out: int,
          gen: "torch.Generator") -> list["torch.Tensor"]:
    import torch

    shapes = [(n_in, hidden), (hidden, hidden), (hidden, n_out)]
    out = []
    for fan_in, fan_out in shapes:
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(members, fan_in, fan_out, generator=gen) * 2 - 1) * bound
        b = (torch.rand(members, 1, fan_out, generator=gen) * 2 - 1) * bound
        out += [w, b]
    return out


def fit_ensemble(X: np.ndarray, Y: np.ndarray, *, members: int, hidden: int, epochs: int,
                 lr: float, weight_decay: float, gen: "torch.Generator",
                 warm: Ensemble | None = None) -> Ensemble:
    """An ensemble fitted on features ``X`` (n, n_in) and targets ``Y`` (n, n_out).

    Args:
        X: features of the evaluated designs.
        Y: their targets (objectives in loss form, constraint targets).
        members: ensemble size.
        hidden: units per hidden layer.
        epochs: full-batch AdamW steps.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        gen: torch generator for the initial weights and the bootstrap weights.
        warm: a previous ensemble of the same shape to start from (the targets' standardisation
            is recomputed; the weights continue from where they were).
    """
    import torch

    x = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(Y, dtype=torch.float32)
    mean = y.mean(0)
    std = y.std(0, unbiased=False) if len(y) > 1 else torch.ones_like(mean)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    ys = (y - mean) / std
    n_out = y.shape[1]
    if warm is not None:
        params = [w.detach().clone().requires_grad_(True) for w in warm.weights]
    else:
        params = [w.requires_grad_(True) for w in _init(members, x.shape[1], hidden, n_out, gen)]
    boot = torch.poisson(torch.ones(members, len(x), 1), generator=gen)
    boot = boot / boot.mean(1, keepdim=True).clamp(min=1e-6)
    opt = Adam(params, lr=lr, weight_decay=weight_decay)
    model = Ensemble(params, mean, std)
    for _ in range(epochs):
        opt.step((boot * (model(x) - ys) ** 2).mean())
    return Ensemble([p.detach() for p in params], mean, std)
