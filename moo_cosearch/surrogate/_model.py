"""The NAHAS MLP cost model (NAHAS, ICLR 2021 submission, section 3.6) and its training loop.

A shared trunk (default 3 hidden layers of 256, ReLU, dropout 0.1) feeds one linear head per
regression target (log-scaled, standardised) plus a feasibility head (logit). The loss is
``sum_t w_t * MSE_t + w_f * BCE_feasible`` with the NAHAS weighting ``w_area = 1``,
``w_latency = lambda = 10`` (energy 1, feasibility 1); rows with a non-finite target are masked
out of that target's term. Adam (lr 1e-3), batch 128, early stopping on the validation loss;
the learning rate is halved after ``lr_patience`` epochs without improvement
(``lr_schedule="plateau"``), or follows a cosine decay to 0 over ``max_epochs`` (``"cosine"``: no
early stopping; the final state is kept, since the validation loss is dominated by the
feasibility term, which can bottom out while the cost targets still improve), or stays constant
(``"constant"``). ``ensemble > 1`` trains that many members from different
seeds (a deep ensemble: mean prediction, spread as uncertainty).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["FitConfig", "build_mlp", "train_members", "predict_members"]


@dataclass
class FitConfig:
    """Training settings (defaults: the NAHAS recipe)."""

    hidden: tuple[int, ...] = (256, 256, 256)
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.0      # decoupled (AdamW) weight decay; 0 = plain Adam
    batch_size: int = 128
    max_epochs: int = 300
    patience: int = 20             # epochs without validation improvement before stopping
    lr_schedule: str = "plateau"   # "plateau", "cosine" (over max_epochs) or "constant"
    lr_factor: float = 0.5         # plateau: learning-rate factor after lr_patience bad epochs
    lr_patience: int = 10
    weights: dict[str, float] = field(default_factory=lambda: {
        "latency_ms": 10.0, "area_mm2": 1.0, "energy_mj": 1.0, "feasible": 1.0})
    ensemble: int = 1
    derived_features: bool | None = False  # + network MACs/weights; None: when the space allows
    val_frac: float = 0.1
    test_frac: float = 0.1
    seed: int = 0
    device: str | None = None      # None: cuda when available, else cpu
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("plateau", "cosine", "constant"):
            raise ValueError(f"lr_schedule must be one of ['plateau', 'cosine', 'constant'], "
                             f"got {self.lr_schedule!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def build_mlp(n_in: int, n_targets: int, hidden: tuple[int, ...], dropout: float):
    """Trunk + one output per regression target + a feasibility logit (last column)."""
    import torch.nn as nn

    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    # the heads of all targets share the trunk; one Linear computes them all at once
    layers.append(nn.Linear(width, n_targets + 1))
    return nn.Sequential(*layers)


def _loss(out, y, mask, feas, weights):
    import torch

    diff = (out[:, :-1] - y) ** 2 * mask
    mse = diff.sum(0) / mask.sum(0).clamp(min=1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out[:, -1], feas)
    return (mse * weights[:-1]).sum() + weights[-1] * bce


def train_members(x: np.ndarray, y: np.ndarray, feas: np.ndarray, train: np.ndarray,
                  val: np.ndarray, weights: np.ndarray, cfg: FitConfig,
                  log: Callable[[str], None] = print) -> tuple[list[dict], dict[str, Any]]:
    """Train ``cfg.ensemble`` MLPs on standardised inputs ``x`` and targets ``y`` (NaN =
    missing) with feasibility labels ``feas``; returns their state dicts and a training log."""
    import torch

    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    X = torch.as_tensor(x, dtype=torch.float32, device=device)
    M = torch.as_tensor(np.isfinite(y), dtype=torch.float32, device=device)
    Y = torch.as_tensor(np.nan_to_num(y), dtype=torch.float32, device=device)
    F = torch.as_tensor(feas, dtype=torch.float32, device=device)
    W = torch.as_tensor(weights, dtype=torch.float32, device=device)
    tr = torch.as_tensor(train, device=device)
    va = torch.as_tensor(val, device=device)
    states, history = [], []
    t0 = time.perf_counter()
    for member in range(cfg.ensemble):
        torch.manual_seed(cfg.seed + member)
        gen = torch.Generator(device=device).manual_seed(cfg.seed + member)
        model = build_mlp(x.shape[1], y.shape[1], tuple(cfg.hidden), cfg.dropout).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay) \
            if cfg.weight_decay else torch.optim.Adam(model.parameters(), lr=cfg.lr)
        if cfg.lr_schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs)
        elif cfg.lr_schedule == "plateau" and cfg.lr_factor < 1:
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=cfg.lr_factor, patience=cfg.lr_patience)
        else:
            sched = None
        best, best_state, bad, epoch = math.inf, None, 0, 0
        for epoch in range(1, cfg.max_epochs + 1):
            model.train()
            perm = tr[torch.randperm(len(tr), generator=gen, device=device)]
            for s in range(0, len(perm), cfg.batch_size):
                b = perm[s:s + cfg.batch_size]
                opt.zero_grad(set_to_none=True)
                _loss(model(X[b]), Y[b], M[b], F[b], W).backward()
                opt.step()
            model.eval()
            with torch.inference_mode():
                v = float(sum(_loss(model(X[va[s:s + 65536]]), Y[va[s:s + 65536]],
                                    M[va[s:s + 65536]], F[va[s:s + 65536]], W)
                              * len(va[s:s + 65536]) for s in range(0, len(va), 65536))
                          / max(len(va), 1))
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(v)
            elif sched is not None:
                sched.step()
            if v < best - 1e-7:
                best, bad = v, 0
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            else:
                bad += 1
            if epoch == 1 or epoch % 10 == 0:
                log(f"member {member}: epoch {epoch} val loss {v:.5g} (best {best:.5g}) "
                    f"lr {opt.param_groups[0]['lr']:.2g}")
            out_of_time = cfg.max_minutes is not None and \
                time.perf_counter() - t0 > 60 * cfg.max_minutes * (member + 1) / cfg.ensemble
            # a cosine schedule runs its whole length
            if (bad >= cfg.patience and cfg.lr_schedule != "cosine") or out_of_time:
                break
        if cfg.lr_schedule == "cosine":   # the schedule's end, not an early high-lr state
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        assert best_state is not None
        states.append({k: t.cpu() for k, t in best_state.items()})
        history.append({"member": member, "epochs": epoch, "best_val_loss": best})
    return states, {"members": history, "train_seconds": time.perf_counter() - t0,
                    "device": str(device)}


def predict_members(models: list, x, batch: int = 262144):
    """Stacked raw outputs (members, n, n_targets + 1) of eval-mode models on tensor ``x``."""
    import torch

    outs = []
    for m in models:
        outs.append(torch.cat([m(x[s:s + batch]) for s in range(0, len(x), batch)])
                    if len(x) else m(x))
    return torch.stack(outs)
