"""Fit, evaluate, save and load the MLP surrogate (its use as a backend: ``_use.py``).

Files: ``fit_surrogate(...).save("m.pt")`` writes ``m.pt`` (tensors only: model state dicts and
scalers, read back with ``torch.load(weights_only=True)``) and ``m.json`` (metadata: format,
space definition and hash, feature schema and hash, targets and their scaling, training config,
data provenance, metrics, and the SHA-256 of ``m.pt``). :func:`load_surrogate` checks the
format, the checksum (a truncated or altered weights file is refused before it is parsed) and,
when given a space, that the surrogate was trained for exactly that space definition.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from ._features import FeatureSchema
from ._model import FitConfig, build_mlp, predict_members, train_members
from ._sampling import load_samples

if TYPE_CHECKING:
    import torch

    from ..space import JointSpace

__all__ = ["Surrogate", "SurrogateError", "fit_surrogate", "load_surrogate",
           "regression_metrics"]

_FORMAT = "moo-cosearch-surrogate/1"


class SurrogateError(ValueError):
    """A surrogate file that cannot be used (missing, corrupt, or for another space)."""


def _kendall(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan")
    return float(kendalltau(a, b).statistic)


def regression_metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAPE (%), share within ±5 % and ±10 % (%), Kendall tau and count of finite pairs."""
    ok = np.isfinite(true) & np.isfinite(pred) & (true != 0)
    t, p = true[ok], pred[ok]
    rel = np.abs(p - t) / np.abs(t)
    return {"n": int(ok.sum()),
            "mape_pct": float(100 * rel.mean()) if len(t) else float("nan"),
            "within_5pct": float(100 * (rel <= 0.05 + 1e-12).mean()) if len(t) else float("nan"),
            "within_10pct": float(100 * (rel <= 0.10 + 1e-12).mean()) if len(t) else float("nan"),
            "kendall_tau": _kendall(t, p)}


def save_checked(path: str | Path, models: Sequence[Any], scalers: Mapping[str, np.ndarray],
                 meta: Mapping[str, Any]) -> Path:
    """Write model state dicts and scalers to ``path`` (tensors only) and ``meta`` plus the
    weights' SHA-256 to ``path.json``; shared by the surrogate and the device predictor."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"states": [m.state_dict() for m in models],
                "scalers": {k: torch.as_tensor(v) for k, v in scalers.items()}}, path)
    meta = dict(meta, weights_sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=float))
    return path


def read_checked(path: str | Path, fmt: str, what: str) -> tuple[dict[str, Any], Path]:
    """The metadata of a file pair written by :func:`save_checked`, after checking that both
    files exist, the JSON has format ``fmt`` and the weights match their checksum.

    Raises:
        SurrogateError: with ``what`` (e.g. "surrogate") naming the kind of file.
    """
    path = Path(path)
    meta_path = path.with_suffix(".json")
    for p in (path, meta_path):
        if not p.is_file():
            raise SurrogateError(f"{what} file {str(p)!r} does not exist (a {what} is a .pt "
                                 f"weights file with a .json beside it)")
    try:
        meta = json.loads(meta_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise SurrogateError(f"{what} metadata {meta_path} is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise SurrogateError(f"{meta_path} is not moo-cosearch {what} metadata (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if hashlib.sha256(path.read_bytes()).hexdigest() != meta.get("weights_sha256"):
        raise SurrogateError(f"{what} weights {path} do not match the checksum in "
                             f"{meta_path.name}: the file is truncated, corrupt or replaced")
    return meta, path


def load_weights(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a checked weights file (tensors only)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


class Surrogate:
    """A trained MLP cost model for one joint space (use :func:`fit_surrogate` or
    :func:`load_surrogate`)."""

    def __init__(self, space: "JointSpace", targets: Sequence[str], log_targets: Sequence[bool],
                 scalers: Mapping[str, np.ndarray], states: Sequence[Mapping[str, Any]],
                 config: FitConfig, meta: Mapping[str, Any] | None = None) -> None:
        import torch

        self.space = space
        self.schema = FeatureSchema(space, derived=bool(config.derived_features))
        self.targets = list(targets)
        self.log_targets = list(log_targets)
        self.scalers = {k: np.asarray(v, dtype=np.float64) for k, v in scalers.items()}
        self.config = config
        self.meta = dict(meta or {})
        self.models = []
        for s in states:
            m = build_mlp(self.schema.width, len(self.targets), tuple(config.hidden),
                          config.dropout)
            m.load_state_dict(s)
            m.eval()
            self.models.append(m)
        self._x_mean = torch.as_tensor(self.scalers["x_mean"], dtype=torch.float32)
        self._x_std = torch.as_tensor(self.scalers["x_std"], dtype=torch.float32)
        self._bf16: dict[int, list] = {}  # member -> bfloat16 copies of its hidden layers
        if self.schema.derived is None:
            self._fold_first_layers()

    # -- prediction -----------------------------------------------------------------------
    def _raw(self, feats):
        """(members, n, targets + 1) outputs for float32 feature tensor ``feats``."""
        return predict_members(self.models, (feats - self._x_mean) / self._x_std)

    def _decode(self, out: np.ndarray) -> dict[str, np.ndarray]:
        """Per-member outputs -> mean/std in the targets' units and p_feasible."""
        res: dict[str, np.ndarray] = {}
        for j, (t, lg) in enumerate(zip(self.targets, self.log_targets)):
            z = out[..., j] * self.scalers["y_std"][j] + self.scalers["y_mean"][j]
            v = np.exp(z) if lg else z
            res[t] = v.mean(0)
            res[f"{t}_std"] = v.std(0)
        res["p_feasible"] = (1 / (1 + np.exp(-out[..., -1]))).mean(0)
        return res

    def predict(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, *,
                precision: str = "float32") -> dict[str, np.ndarray]:
        """Predicted targets (and ``<target>_std`` across ensemble members, 0 for one model) and
        ``p_feasible`` for design dicts or a grid-index matrix (fastest).

        Args:
            precision: ``"float32"`` (default) or ``"bfloat16"``: the hidden layers in
                bfloat16 (much faster on CPUs with AMX/AVX-512-BF16 and on GPUs, at a small
                accuracy cost: measured in ``benchmarks/bench_surrogate.py --time``).
        """
        import torch

        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
        idx = self.schema.indices(designs)
        with torch.inference_mode():
            if self.schema.derived is None:  # first layer folded into per-choice rows
                out = self._folded(torch.from_numpy(idx), precision)
            else:
                x = (torch.from_numpy(self.schema.transform(idx)) - self._x_mean) / self._x_std
                out = torch.stack([self._trunk(i, m[0](x), precision)
                                   for i, m in enumerate(self.models)])
        return self._decode(out.double().numpy())

    def _trunk(self, member: int, h, precision: str, batch: int = 65536):
        """Outputs of member ``member`` from its first layer's pre-activations ``h``: hidden
        Linears in ``precision``, the output layer in float32."""
        import torch

        layers = list(self.models[member])[1:]
        if precision == "bfloat16":
            if member not in self._bf16:
                self._bf16[member] = [copy.deepcopy(x).to(torch.bfloat16) for x in layers[:-1]]
            hidden = self._bf16[member]
        else:
            hidden = layers[:-1]
        outs = []
        for s in range(0, len(h), batch):
            z = h[s:s + batch].to(torch.bfloat16 if precision == "bfloat16" else torch.float32)
            for layer in hidden:
                z = layer(z)
            outs.append(layers[-1](z.float()))
        return torch.cat(outs) if outs else h.new_zeros((0, layers[-1].out_features))

    def _folded(self, idx, precision: str):
        """(members, n, outputs) from grid indices: each searched parameter's choice maps to a
        precomputed row of first-layer pre-activations (its features normalised and multiplied
        by the first layer's weights), so one ``embedding_bag`` sum replaces the feature
        transform, the normalisation and the first matrix product."""
        import torch

        flat = idx + self._offsets
        return torch.stack([
            self._trunk(i, torch.nn.functional.embedding_bag(flat, rows, mode="sum")
                        + self.models[i][0].bias, precision)
            for i, rows in enumerate(self._rows)])

    def _fold_first_layers(self) -> None:
        import torch

        starts = np.cumsum([0] + [len(t) for t in self.schema._tables])
        self._offsets = torch.as_tensor(starts[:-1], dtype=torch.int64)
        mean, std = self.scalers["x_mean"], self.scalers["x_std"]
        self._rows = []
        for m in self.models:
            w = m[0].weight.detach().double().numpy()  # (hidden, features)
            blocks, col = [], 0
            for table in self.schema._tables:
                cols = slice(col, col + table.shape[1])
                blocks.append(((table - mean[cols]) / std[cols]) @ w[:, cols].T)
                col = cols.stop
            self._rows.append(torch.as_tensor(np.concatenate(blocks), dtype=torch.float32))

    def predict_relaxed(self, probs: Sequence["torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        """Differentiable predictions (ensemble mean) for relaxed designs: ``probs[j]`` holds
        (n, k_j) choice probabilities of the j-th searched parameter (e.g. a softmax of
        architecture logits). Returns torch tensors in the targets' units plus ``p_feasible``."""
        import torch

        feats = self.schema.relaxed(probs).float()
        out = self._raw(feats)
        res = {}
        for j, (t, lg) in enumerate(zip(self.targets, self.log_targets)):
            z = out[..., j] * float(self.scalers["y_std"][j]) + float(self.scalers["y_mean"][j])
            res[t] = (torch.exp(z) if lg else z).mean(0)
        res["p_feasible"] = torch.sigmoid(out[..., -1]).mean(0)
        return res

    # -- files ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path`` (weights, ``.pt``) and its ``.json`` metadata; returns ``path``."""
        return save_checked(path, self.models, self.scalers, dict(
            self.meta, format=_FORMAT, space=self.space.to_dict(),
            space_hash=self.space.definition_hash, features=self.schema.describe(),
            feature_hash=self.schema.hash, targets=self.targets, log_targets=self.log_targets,
            config=self.config.to_dict()))


def load_surrogate(path: str | Path, space: "JointSpace | None" = None) -> Surrogate:
    """Load a surrogate saved by :meth:`Surrogate.save`, safely (no code is executed).

    Raises:
        SurrogateError: missing files, bad metadata, checksum mismatch (truncated/corrupt
            weights), or a surrogate trained for another space definition than ``space``.
    """
    from ..space import JointSpace

    meta, path = read_checked(path, _FORMAT, "surrogate")
    meta_path = path.with_suffix(".json")
    try:
        own_space = JointSpace.from_dict(meta["space"])
    except (KeyError, ValueError, TypeError) as e:
        raise SurrogateError(f"{meta_path}: bad space definition ({e})") from None
    if own_space.definition_hash != meta.get("space_hash"):
        raise SurrogateError(f"{meta_path}: space definition does not match its hash")
    if space is not None and space.definition_hash != own_space.definition_hash:
        raise SurrogateError(f"surrogate {path.name} was trained for space {own_space.name!r} "
                             f"(definition {own_space.definition_hash}); it cannot evaluate "
                             f"space {space.name!r} (definition {space.definition_hash})")
    if FeatureSchema(own_space, derived=bool(meta.get("config", {}).get("derived_features"))
                     ).hash != meta.get("feature_hash"):
        raise SurrogateError(f"{meta_path}: its feature schema differs from this version's "
                             f"encoding of the space; retrain the surrogate")
    try:
        blob = load_weights(path)
        cfg = FitConfig(**{**meta["config"], "hidden": tuple(meta["config"]["hidden"])})
        return Surrogate(own_space, meta["targets"], meta["log_targets"],
                         {k: v.numpy() for k, v in blob["scalers"].items()}, blob["states"],
                         cfg, meta)
    except Exception as e:
        raise SurrogateError(f"cannot load surrogate weights {path}: {type(e).__name__}: "
                             f"{e}") from None


def _split(n: int, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    perm = np.random.default_rng(cfg.seed).permutation(n)
    n_test, n_val = int(round(n * cfg.test_frac)), int(round(n * cfg.val_frac))
    if n - n_test - n_val < 1 or n_val < 1:
        raise ValueError(f"{n} samples are too few for validation fraction {cfg.val_frac} and "
                         f"test fraction {cfg.test_frac}")
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def fit_surrogate(samples: str | Path | tuple[Mapping[str, np.ndarray], Mapping[str, Any]], *,
                  targets: Sequence[str] | None = None, config: FitConfig | None = None,
                  latency_target_ms: float | None = None,
                  log: Callable[[str], None] = print) -> Surrogate:
    """Train the MLP surrogate on a sample file (see :func:`sample_designs`).

    Args:
        samples: the ``.npz`` path, or ``(columns, meta)`` as :func:`load_samples` returns.
        targets: metrics to learn (default: every metric the sampled backend gave).
        config: :class:`FitConfig` (NAHAS defaults).
        latency_target_ms: report the latency error on test designs within ±10 % of this
            latency (NAHAS's figure); default the median feasible test latency.
        log: where progress lines go.

    Returns:
        The trained :class:`Surrogate`; ``surrogate.meta["metrics"]`` holds the test report.
    """
    from ..space import JointSpace

    cfg = config or FitConfig()
    cols, meta = load_samples(samples) if not isinstance(samples, tuple) else samples
    space = JointSpace.from_dict(meta["space"])
    targets = list(targets or meta["metrics"])
    unknown = [t for t in targets if t not in cols]
    if unknown:
        raise ValueError(f"targets must be sampled metrics {meta['metrics']}, got {unknown}")
    if cfg.derived_features is None:
        try:
            schema = FeatureSchema(space, derived=True)
        except ValueError as e:             # no network, or not additive: plain features
            log(f"no derived features: {e}")
            schema = FeatureSchema(space)
        cfg = replace(cfg, derived_features=schema.derived is not None)
    else:
        schema = FeatureSchema(space, derived=cfg.derived_features)
    x = schema.transform(cols["idx"].astype(np.int64))
    raw = np.stack([cols[t].astype(np.float64) for t in targets], 1)
    log_t = [bool(np.all(raw[np.isfinite(raw[:, j]), j] > 0)) for j in range(len(targets))]
    z = raw.copy()
    for j, lg in enumerate(log_t):
        if lg:
            z[:, j] = np.log(raw[:, j])
    feas = cols["feasible"].astype(np.float64)
    errors = np.char.startswith(cols["reason"].astype(str), "error:")
    rows = np.flatnonzero(~errors)                       # crashed designs teach nothing
    train, val, test = (rows[s] for s in _split(len(rows), cfg))
    x_mean, x_std = x[train].mean(0), x[train].std(0)
    x_std[x_std == 0] = 1.0
    y_mean, y_std = np.nanmean(z[train], 0), np.nanstd(z[train], 0)
    y_std[~(y_std > 0)] = 1.0
    weights = np.array([cfg.weights.get(t, 1.0) for t in targets]
                       + [cfg.weights.get("feasible", 1.0)])
    log(f"training on {len(train)} designs ({len(val)} validation, {len(test)} test), "
        f"{schema.width} features, targets {targets}")
    states, history = train_members((x - x_mean) / x_std, (z - y_mean) / y_std, feas, train,
                                     val, weights, cfg, log=log)
    sur = Surrogate(space, targets, log_t, {"x_mean": x_mean, "x_std": x_std, "y_mean": y_mean,
                                            "y_std": y_std}, states, cfg)
    pred = sur.predict(cols["idx"][test].astype(np.int64))
    report: dict[str, Any] = {t: regression_metrics(raw[test, j], pred[t])
                              for j, t in enumerate(targets)}
    truth_f = cols["feasible"][test].astype(bool)
    report["feasibility_accuracy_pct"] = float(100 * ((pred["p_feasible"] >= 0.5) == truth_f)
                                               .mean())
    report["feasible_share_pct"] = float(100 * truth_f.mean())
    if "latency_ms" in targets:
        lat = raw[test, targets.index("latency_ms")]
        target = latency_target_ms
        if target is None and truth_f.any():
            target = float(np.median(lat[truth_f]))
        if target is not None:
            near = truth_f & (np.abs(lat - target) <= 0.1 * target)
            report["near_latency_target"] = {"target_ms": target, **regression_metrics(
                lat[near], pred["latency_ms"][near])}
    sur.meta = {"data": {"backend": meta["backend"], "space": space.name, "seed": meta["seed"],
                         "n_samples": int(len(cols["idx"])), "n_errors": int(errors.sum()),
                         "source": str(samples) if not isinstance(samples, tuple) else None,
                         "perturb_frac": meta.get("perturb_frac", 0.0)},
                "split": {"train": len(train), "val": len(val), "test": len(test)},
                "training": history, "metrics": report}
    return sur
