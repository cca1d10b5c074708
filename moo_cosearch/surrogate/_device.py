"""Measured-device latency predictor for NAS-Bench-201 cells.

From a few hundred to a thousand cells timed on a device (the HW-NAS-Bench-360 table shipped
with :mod:`moo_cosearch.hardware.table`), predict the latency of the other ~14,600. The model is
the surrogate's MLP (:func:`~._model.build_mlp` / :func:`~._model.train_members`) on
structure-aware cell features:

* **dead-edge canonicalisation** (:func:`moo_cosearch.networks.nb201.live_edges`): a dead op
  computes nothing that reaches the output (or computes on an all-zero input); runtimes that
  fold constants and prune unused subgraphs drop it;
* one-hot ops of the raw and of the canonical cell, counts of each op type (raw and live),
  additions (``add`` layers: live inputs per node minus one), whether any live path joins input
  and output, the longest live path in compute ops (conv/pool) and in 3x3 convs;
* MACs and parameters of the whole CIFAR-100 network with the raw and with the canonical cell
  (:func:`moo_cosearch.networks.nb201.nb201`), log-scaled.

``features="onehot"`` keeps only the raw one-hot block (the ablation baseline). The target is
``log(latency_ms)``, standardised.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..hardware.table import DEVICES, DeviceTable, device_table
from ..networks.nb201 import (EDGES, OPS, arch_codes, cell_ops, live_edges,
                              representative_ops)
from ._model import FitConfig, build_mlp, predict_members, train_members

__all__ = ["DEVICE_FEATURES", "DevicePredictor", "cell_features", "fit_device_predictor",
           "load_device_predictor"]

#: Feature sets of :func:`cell_features`.
DEVICE_FEATURES = ("onehot", "live", "structure")
_FORMAT = "moo-cosearch-device-predictor/1"
_NONE = OPS.index("none")


def _longest(ops: np.ndarray, live: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Longest input->output path over live edges, edge weight ``weight[op]``; -1 if none."""
    dist = [np.zeros(len(ops))] + [np.full(len(ops), -np.inf) for _ in range(3)]
    for e, (s, d) in enumerate(EDGES):
        cand = np.where(live[:, e], dist[s] + weight[ops[:, e]], -np.inf)
        dist[d] = np.maximum(dist[d], cand)
    return np.where(np.isfinite(dist[3]), dist[3], -1.0)


@lru_cache(maxsize=1)
def _network_costs() -> np.ndarray:
    """(5**6, 2) MACs and params of the CIFAR-100 NB201 network of every cell code."""
    from ..networks import summarize
    from ..networks.nb201 import nb201

    out = np.zeros((5 ** 6, 2))
    for code in range(5 ** 6):
        edges = [OPS[(code // 5 ** e) % 5] for e in range(6)]
        out[code] = summarize(nb201(edges, num_classes=100))
    out.setflags(write=False)
    return out


def cell_features(ops: np.ndarray, features: str = "structure") -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n, width) and column names of cells ``ops`` (see :func:`cell_ops`)."""
    if features not in DEVICE_FEATURES:
        raise ValueError(f"features must be one of {list(DEVICE_FEATURES)}, got {features!r}")
    ops = np.asarray(ops, dtype=np.int64)
    eye = np.eye(len(OPS))
    cols = [eye[ops].reshape(len(ops), -1)]
    names = [f"edge{e}={op}" for e in range(6) for op in OPS]
    if features != "onehot":
        if features == "structure":
            ops = representative_ops(ops)
        live = live_edges(ops)
        canon = np.where(live, ops, _NONE)
        cols.append(eye[canon].reshape(len(ops), -1))
        names += [f"live_edge{e}={op}" for e in range(6) for op in OPS]
        for label, cell in (("raw", ops), ("live", canon)):
            counts = np.stack([(cell == k).sum(1) for k in range(1, 5)], 1)
            inputs = np.stack([(cell[:, [e for e, (_, d) in enumerate(EDGES) if d == node]]
                                != _NONE).sum(1) for node in (1, 2, 3)], 1)
            costs = _network_costs()[arch_codes(cell)]
            cols += [counts, np.maximum(inputs - 1, 0).sum(1, keepdims=True),
                     np.log(costs)]
            names += [f"{label}_n_{op}" for op in OPS[1:]]
            names += [f"{label}_adds", f"{label}_log_macs", f"{label}_log_params"]
        compute = np.array([0, 0, 1, 1, 1], float)
        conv3 = np.array([0, 0, 0, 1, 0], float)
        cols.append(np.stack([live.any(1).astype(float), _longest(ops, live, compute),
                              _longest(ops, live, conv3), live.sum(1)], 1))
        names += ["connected", "longest_path_ops", "longest_path_conv3x3", "n_live_edges"]
    return np.concatenate([c.astype(np.float64) for c in cols], 1), names


def _device_name(device: str, framework: str | None) -> str:
    name = device if framework is None else f"{device}-{framework}"
    if name not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)} (or device + framework, e.g. "
                         f"'pi5', 'onnx'), got {name!r}")
    return name


class DevicePredictor:
    """An MLP (ensemble) predicting one device's latency of NB201 cells (see
    :func:`fit_device_predictor`, :func:`load_device_predictor`).

    Attributes:
        device: the device/runtime pair (one of :data:`~moo_cosearch.hardware.table.DEVICES`).
        features: the feature set (one of :data:`DEVICE_FEATURES`).
        meta: training data, split, log and the held-out test report.
    """

    def __init__(self, device: str, features: str, scalers: Mapping[str, np.ndarray],
                 states: Sequence[Mapping[str, Any]], config: FitConfig,
                 meta: Mapping[str, Any] | None = None) -> None:
        import torch

        self.device, self.features, self.config = device, features, config
        self.scalers = {k: np.asarray(v, dtype=np.float64) for k, v in scalers.items()}
        self.meta = dict(meta or {})
        self.models = []
        for s in states:
            m = build_mlp(len(self.scalers["x_mean"]), 1, tuple(config.hidden), config.dropout)
            m.load_state_dict(s)
            m.eval()
            self.models.append(m)
        self._x_mean = torch.as_tensor(self.scalers["x_mean"], dtype=torch.float32)
        self._x_std = torch.as_tensor(self.scalers["x_std"], dtype=torch.float32)

    def predict(self, cells: Any) -> np.ndarray:
        """Latency (ms) of cells: arch strings, design dicts, op-name lists or op indices."""
        import torch

        x = torch.as_tensor(cell_features(cell_ops(cells), self.features)[0], dtype=torch.float32)
        with torch.inference_mode():
            out = predict_members(self.models, (x - self._x_mean) / self._x_std).double().numpy()
        z = out[..., 0] * self.scalers["y_std"][0] + self.scalers["y_mean"][0]
        return np.exp(z).mean(0)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (tensors only) and ``path.json`` (metadata with the weights' SHA-256)."""
        from ._surrogate import save_checked

        return save_checked(path, self.models, self.scalers, dict(
            self.meta, format=_FORMAT, device=self.device, features=self.features,
            config=self.config.to_dict()))


def load_device_predictor(path: str | Path) -> DevicePredictor:
    """Load a predictor written by :meth:`DevicePredictor.save`, safely (``weights_only``
    loading after a checksum check).

    Raises:
        SurrogateError: missing files, foreign or corrupt metadata, checksum mismatch.
    """
    from ._surrogate import SurrogateError, load_weights, read_checked

    meta, path = read_checked(path, _FORMAT, "device predictor")
    try:
        blob = load_weights(path)
        cfg = FitConfig(**{**meta["config"], "hidden": tuple(meta["config"]["hidden"])})
        return DevicePredictor(meta["device"], meta["features"],
                               {k: v.numpy() for k, v in blob["scalers"].items()},
                               blob["states"], cfg, meta)
    except Exception as e:
        raise SurrogateError(f"cannot load device predictor {path}: {type(e).__name__}: "
                             f"{e}") from None


def default_device_config(seed: int = 0) -> FitConfig:
    """Settings for ~1,000 training cells: a small trunk, no dropout, long patience."""
    return FitConfig(hidden=(128, 128), dropout=0.0, lr=3e-3, batch_size=32, max_epochs=400,
                     patience=40, lr_patience=10, ensemble=3, val_frac=0.1, test_frac=0.0,
                     seed=seed, device="cpu")


def fit_device_predictor(device: str, framework: str | None = None, *, n_train: int = 1000,
                         seed: int = 0, features: str = "structure",
                         config: FitConfig | None = None, table: DeviceTable | None = None,
                         log: Callable[[str], None] = lambda s: None) -> DevicePredictor:
    """Train a latency predictor on ``n_train`` random measured cells of one device and test
    it on all the other cells of the table.

    Args:
        device: a device/runtime pair (``"pi5-onnx"``), or a device (``"pi5"``) with
            ``framework`` (``"onnx"``).
        framework: the runtime when ``device`` names only the device.
        n_train: measured cells to learn from (``config.val_frac`` of them for early stopping).
        seed: the random choice of cells and the initialisation.
        features: ``"structure"`` (default) or ``"onehot"`` (see the module doc).
        config: training settings (default :func:`default_device_config`).
        table: the measured table (default: the packaged one).
        log: where progress lines go.

    Returns:
        The predictor; ``meta["metrics"]`` holds :func:`regression_metrics` (MAPE, share within
        ±5 % / ±10 %, Kendall tau) on the held-out cells, ``meta["train_seconds"]`` the time.
    """
    from ._surrogate import regression_metrics

    name = _device_name(device, framework)
    if features not in DEVICE_FEATURES:
        raise ValueError(f"features must be one of {list(DEVICE_FEATURES)}, got {features!r}")
    cfg = config or default_device_config(seed)
    table = table or device_table()
    lat = table.latency_ms[table.row(name)]
    measured = np.flatnonzero(np.isfinite(lat) & (lat > 0))
    n_val = max(1, int(round(n_train * cfg.val_frac)))
    if not n_val < n_train <= len(measured) - 1:
        raise ValueError(f"n_train must lie in ({n_val}, {len(measured) - 1}] for {name} "
                         f"({len(measured)} measured cells), got {n_train}")
    perm = np.random.default_rng(seed).permutation(measured)
    chosen, test = perm[:n_train], perm[n_train:]
    ops = (np.arange(5 ** 6)[:, None] // 5 ** np.arange(6)) % 5
    x_all = cell_features(ops, features)[0]
    z = np.log(lat)[:, None]
    fit_rows = chosen[n_val:]                  # the first n_val chosen rows validate
    x_mean, x_std = x_all[chosen].mean(0), x_all[chosen].std(0)
    x_std[x_std == 0] = 1.0
    y_mean, y_std = z[chosen].mean(0), z[chosen].std(0)
    x = (x_all[chosen] - x_mean) / x_std
    y = (z[chosen] - y_mean) / y_std
    log(f"{name}: training on {len(fit_rows)} cells ({n_val} validation), {x.shape[1]} "
        f"{features} features, testing on {len(test)}")
    states, history = train_members(
        x, y, np.ones(len(chosen)), np.arange(n_val, n_train), np.arange(n_val),
        np.array([1.0, 0.0]), cfg, log=log)
    pred = DevicePredictor(name, features, {"x_mean": x_mean, "x_std": x_std,
                                            "y_mean": y_mean, "y_std": y_std}, states, cfg)
    guess = pred.predict(ops[test])
    pred.meta = {"data": {"device": name, "n_measured": int(len(measured)), "seed": seed,
                          "train_nb201_index": table.nb201_index[chosen].tolist()},
                 "split": {"train": int(len(fit_rows)), "val": n_val, "test": int(len(test))},
                 "training": history, "train_seconds": history["train_seconds"],
                 "metrics": regression_metrics(lat[test], guess)}
    return pred
