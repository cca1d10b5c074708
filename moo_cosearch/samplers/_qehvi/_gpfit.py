"""Fast maximum-a-posteriori fit of BoTorch's default ``SingleTaskGP`` hyperparameters.

BoTorch 0.18's ``SingleTaskGP`` (RBF kernel with ARD lengthscales, dimension-scaled LogNormal
lengthscale prior, LogNormal(-4, 1) noise prior, constant mean, one independent GP per outcome
in a batch) is fitted here with plain torch tensors — a batched Cholesky and one scipy L-BFGS-B
run — instead of gpytorch's module machinery, which costs tens of milliseconds per likelihood
evaluation on small data. The objective is the same (log marginal likelihood + log priors), so
the fitted values are loaded straight into the BoTorch model used for acquisition
(:func:`make_model` then :func:`apply_hypers`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.optimize import minimize

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP

__all__ = ["GPHypers", "apply_hypers", "fit_gp_hypers", "make_model", "marginal_posterior",
           "train_targets"]

_LS_MIN = 2.5e-2   # BoTorch's lengthscale lower bound
_NOISE_MIN = 1e-4  # BoTorch's noise lower bound
_NOISE_PRIOR = (-4.0, 1.0)


@dataclass(frozen=True)
class GPHypers:
    """Per-outcome hyperparameters: lengthscales (k, d), noise variances (k,), means (k,)."""

    lengthscale: np.ndarray
    noise: np.ndarray
    constant: np.ndarray


def _lognormal_logpdf(x: torch.Tensor, loc: float, scale: float) -> torch.Tensor:
    z = (torch.log(x) - loc) / scale
    return -torch.log(x) - math.log(scale * math.sqrt(2 * math.pi)) - 0.5 * z * z


def fit_gp_hypers(X: torch.Tensor, Y: torch.Tensor, init: GPHypers | None = None,
                  maxiter: int = 100, cold_maxiter: int | None = None) -> GPHypers:
    """MAP hyperparameters of k independent RBF-ARD GPs sharing the inputs.

    Two L-BFGS-B starts when ``init`` is given: the warm start (``maxiter`` iterations) and the
    prior's mode, BoTorch's own starting point (``cold_maxiter``, default ``maxiter``); the one
    with the higher posterior density wins, per outcome. A warm start alone keeps the previous
    fit's basin: once an early fit has declared an input irrelevant (a long lengthscale), short
    warm refits never bring it back, and the acquisition then ignores that input for the rest
    of the run (on DTLZ2, the inputs of the distance to the front: qehvi stalled at a quarter of
    the maximal hypervolume on some seeds; benchmarks/results/qehvi_dtlz2.md).

    Args:
        X: (n, d) inputs.
        Y: (n, k) standardised outcomes.
        init: warm start (e.g. the previous fit); None: the prior's mode only.
        maxiter: L-BFGS-B iterations from ``init`` (from the prior's mode when it is None).
        cold_maxiter: L-BFGS-B iterations from the prior's mode when ``init`` is given.
    """
    n, d = X.shape
    k = Y.shape[1]
    ls_loc, ls_scale = math.sqrt(2) + 0.5 * math.log(d), math.sqrt(3)
    mode = GPHypers(np.full((k, d), math.exp(ls_loc - ls_scale ** 2)), np.full(k, 1e-2),
                    np.zeros(k))
    bounds = ([(math.log(_LS_MIN), None)] * (k * d) + [(math.log(_NOISE_MIN), None)] * k
              + [(None, None)] * k)
    diff2 = (X[:, None, :] - X[None, :, :]) ** 2  # (n, n, d), shared by all outcomes
    Yt = Y.T  # (k, n)
    eye = torch.eye(n, dtype=X.dtype, device=X.device)

    def per_outcome(t: torch.Tensor) -> torch.Tensor:
        """(k,) negative log posterior / n of each outcome at ``t`` (they are independent)."""
        ls = torch.exp(t[:k * d]).view(k, d)
        noise = torch.exp(t[k * d:k * d + k])
        const = t[k * d + k:]
        K = torch.exp(-0.5 * torch.einsum("ijd,kd->kij", diff2, 1.0 / ls ** 2))
        K = K + (noise[:, None, None] + 1e-8) * eye
        L = torch.linalg.cholesky(K)
        r = (Yt - const[:, None]).unsqueeze(-1)
        alpha = torch.cholesky_solve(r, L)
        nll = (0.5 * (r * alpha).sum(dim=(-1, -2))
               + torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
               + 0.5 * n * math.log(2 * math.pi))
        prior = (_lognormal_logpdf(ls, ls_loc, ls_scale).sum(-1)
                 + _lognormal_logpdf(noise, *_NOISE_PRIOR))
        return (nll - prior) / n

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(theta, dtype=X.dtype, device=X.device, requires_grad=True)
        total = per_outcome(t).sum()
        total.backward()
        return float(total.detach()), t.grad.cpu().numpy()

    def flat(h: GPHypers) -> np.ndarray:
        return np.concatenate([np.log(h.lengthscale).ravel(), np.log(h.noise),
                               h.constant]).astype(np.float64)

    def unflat(theta: np.ndarray) -> GPHypers:
        return GPHypers(np.exp(theta[:k * d]).reshape(k, d), np.exp(theta[k * d:k * d + k]),
                        theta[k * d + k:].copy())

    starts = ([(init, maxiter), (mode, maxiter if cold_maxiter is None else cold_maxiter)]
              if init is not None else [(mode, maxiter)])
    found, losses = [], []  # fitted GPHypers and their per-outcome losses, per start
    for h, iters in starts:
        try:
            res = minimize(loss, flat(h), jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": iters})
            with torch.no_grad():
                f = per_outcome(torch.tensor(res.x, dtype=X.dtype, device=X.device))
        except (torch.linalg.LinAlgError, RuntimeError, ValueError):
            continue  # numerically hopeless from this start
        found.append(unflat(res.x))
        losses.append(f.cpu().numpy())
    if not found:
        return starts[0][0]  # keep the start
    # per outcome, the start that reached the higher posterior density
    pick = np.argmin(np.stack(losses), axis=0)  # (k,)
    return GPHypers(*(np.stack([getattr(found[p], field)[j] for j, p in enumerate(pick)])
                      for field in ("lengthscale", "noise", "constant")))


def make_model(X: torch.Tensor, Y: torch.Tensor) -> "SingleTaskGP":
    """BoTorch's default ``SingleTaskGP`` on (n, d) inputs and (n, k) raw outcomes, with a
    ``Standardize`` outcome transform; its hyperparameters are still the defaults."""
    from botorch.exceptions import InputDataWarning
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputDataWarning)
        return SingleTaskGP(X, Y, outcome_transform=Standardize(m=Y.shape[-1]))


def apply_hypers(model: "SingleTaskGP", hypers: GPHypers) -> None:
    """Load fitted values into a BoTorch ``SingleTaskGP`` with k batched outcomes."""
    kw = {"dtype": model.train_inputs[0].dtype, "device": model.train_inputs[0].device}
    ls, noise, const = (torch.tensor(v, **kw) for v in
                        (hypers.lengthscale, hypers.noise, hypers.constant))
    if model.num_outputs == 1:  # no batch dimension
        model.covar_module.lengthscale = ls
        model.likelihood.noise = noise
        model.mean_module.constant = const[0]
    else:
        model.covar_module.lengthscale = ls.unsqueeze(-2)
        model.likelihood.noise = noise.unsqueeze(-1)
        model.mean_module.constant = const


def train_targets(model: "SingleTaskGP") -> torch.Tensor:
    """The model's (outcome-transformed) training targets as an (n, k) tensor."""
    y = model.train_targets
    return y.unsqueeze(-1) if y.dim() == 1 else y.T


def marginal_posterior(X: torch.Tensor, Y: torch.Tensor, hypers: GPHypers,
                       Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and variance of the latent functions at each row of ``Xc`` (marginals
    only), in the standardised outcome space of ``Y``: two (m, k) tensors.

    The same posterior as the BoTorch model with these hyperparameters, without building a
    joint covariance or gpytorch's lazy tensors, so a pool of thousands of candidates costs a
    few matrix products.
    """
    kw = {"dtype": X.dtype, "device": X.device}
    inv_ls = 1.0 / torch.tensor(hypers.lengthscale, **kw)  # (k, d)
    noise = torch.tensor(hypers.noise, **kw)
    const = torch.tensor(hypers.constant, **kw)
    Xs = X[None] * inv_ls[:, None, :]  # (k, n, d)
    Cs = Xc[None] * inv_ls[:, None, :]  # (k, m, d)
    K = torch.exp(-0.5 * torch.cdist(Xs, Xs) ** 2)
    K = K + (noise[:, None, None] + 1e-8) * torch.eye(X.shape[0], **kw)
    L = torch.linalg.cholesky(K)
    Ks = torch.exp(-0.5 * torch.cdist(Xs, Cs) ** 2)  # (k, n, m)
    alpha = torch.cholesky_solve((Y.T - const[:, None]).unsqueeze(-1), L)  # (k, n, 1)
    mean = const[:, None] + (Ks * alpha).sum(dim=1)  # (k, m)
    v = torch.linalg.solve_triangular(L, Ks, upper=False)
    var = (1.0 - (v * v).sum(dim=1)).clamp_min(1e-12)
    return mean.T, var.T
