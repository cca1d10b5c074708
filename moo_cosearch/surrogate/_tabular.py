"""Predictors learned from a table of measured designs (trained accuracy, measured latency).

A table is rows of a space's NAS parameter values plus one measured ``metric``;
:func:`read_table` checks it at load (one line naming the bad row) and
:func:`fit_table_predictor` fits a regressor that maps designs to the metric with a spread.
Features: the space's grid encoding of its searched NAS parameters (ordered grids as
index/(k-1), named choices one-hot) plus, where the space names a network family, the log of
the network's MACs and weights (cheap, and strongly tied to both accuracy and latency).

Model families (``model``; ``benchmarks/bench_accuracy_predictor.py`` compares them):

* ``gbt`` — an ensemble of 5 scikit-learn gradient-boosted tree regressors (row subsampling
  0.8, one seed each); spread: the members' standard deviation;
* ``mlp`` — an ensemble of 5 scikit-learn MLPs (2 x 128, ReLU, L2 1e-3), one seed each;
* ``gp`` — a scikit-learn Gaussian process (constant x ARD Matern-5/2 + white noise), kernel
  hyperparameters fitted on at most 700 rows by at most 10 L-BFGS iterations (early stopping:
  on Accel-NASBench it ranks held-out rows as well as, or better than, a converged fit on 500
  rows, at a fifth of the time), then conditioned on every row; spread: the posterior standard
  deviation. About 10 CPU-s on the 5,125-row Accel-NASBench table (the earlier RBF kernel with
  hyperparameters converged on 1,000 rows took ~100 CPU-s;
  ``benchmarks/results/accuracy_predictor.md``).
"""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["MIN_ROWS", "PREDICTOR_MODELS", "TablePredictor", "fit_table_predictor",
           "read_table", "table_rows"]

#: Model families of :func:`fit_table_predictor`.
PREDICTOR_MODELS = ("gbt", "mlp", "gp")
#: Fewest rows a table may hold.
MIN_ROWS = 20
_MEMBERS = 5
_GP_FIT_ROWS = 700
_GP_MAX_ITER = 10


def _nas_params(space: Any) -> list[Any]:
    return [p for p in space.group("nas") if not p.fixed]


def _number(text: str) -> float | int | str:
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() and "." not in text and "e" not in text.lower() else f


def table_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV file (``.csv`` or ``.csv.gz``), numbers parsed; ValueError when it is
    missing or has no header."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"table file must exist, got {str(path)!r}")
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise ValueError(f"table {p.name}: needs a header line, got an empty file")
        return [{k: _number(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in reader]


def read_table(space: Any, rows: Iterable[Mapping[str, Any]], metric: str,
               what: str = "table") -> tuple[list[dict[str, Any]], np.ndarray]:
    """Check a table against ``space`` and return (designs, metric values).

    Rows are numbered from 1 (the first data row; a CSV's header is row 0). Raises ValueError,
    one line naming the row, on: a missing NAS parameter or metric column, a metric that is
    not a finite number, a NAS value off the space's grid, a design repeated with another
    value, or fewer than :data:`MIN_ROWS` rows.
    """
    params = _nas_params(space)
    if not params:
        raise ValueError(f"{what}: space {space.name!r} has no searched NAS parameter to learn")
    rows = list(rows)
    designs: list[dict[str, Any]] = []
    values: list[float] = []
    seen: dict[tuple, tuple[int, float]] = {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ValueError(f"{what} row {n}: must be a mapping of column -> value, "
                             f"got {type(row).__name__}")
        for col in [p.name for p in params] + [metric]:
            if col not in row or row[col] is None or row[col] == "":
                raise ValueError(f"{what} row {n}: needs column {col!r} (NAS parameters of "
                                 f"{space.name!r} and the metric), it is missing or empty")
        y = row[metric]
        if isinstance(y, bool) or not isinstance(y, (int, float, np.number)) \
                or not math.isfinite(float(y)):
            raise ValueError(f"{what} row {n}: {metric} must be a finite number, got {y!r}")
        design = {}
        for p in params:
            try:
                p.index(row[p.name])
            except ValueError as err:
                raise ValueError(f"{what} row {n}: {err}") from None
            design[p.name] = p.choices[p.index(row[p.name])]
        key = tuple(design[p.name] for p in params)
        if key in seen and seen[key][1] != float(y):
            raise ValueError(f"{what} row {n}: repeats the design of row {seen[key][0]} with "
                             f"{metric} {float(y)!r} != {seen[key][1]!r}; keep one value "
                             f"per design (e.g. their mean)")
        seen.setdefault(key, (n, float(y)))
        designs.append(design)
        values.append(float(y))
    if len(seen) < MIN_ROWS:
        raise ValueError(f"{what}: needs at least {MIN_ROWS} distinct designs to fit a "
                         f"predictor, got {len(seen)} (rows 1..{len(rows)})")
    return designs, np.asarray(values, dtype=np.float64)


def _features(space: Any, designs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    params = _nas_params(space)
    blocks = []
    for p in params:
        idx = np.fromiter((p.index(d[p.name]) for d in designs), dtype=np.int64,
                          count=len(designs))
        blocks.append(p.encoding[idx])
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(designs), 0))
    if getattr(space, "network", None):
        from ..networks import network_matrix
        from ..networks.layers import LayerBatch
        macs_col = list(LayerBatch.__dataclass_fields__).index("macs") - 1
        costs = np.array([network_matrix(space.network, d)[:, [macs_col, macs_col + 1]]
                          .sum(axis=0) for d in designs], dtype=np.float64)
        x = np.concatenate([x, np.log(costs + 1.0)], axis=1)
    return x


class TablePredictor:
    """A fitted predictor: ``predictor(designs) -> np.ndarray`` of the metric, and
    :meth:`predict` with its spread. Designs are dicts holding (at least) the space's NAS
    parameters; a single dict gives a 1-element array."""

    def __init__(self, space: Any, metric: str, model: str, members: list[Any],
                 x_scale: tuple[np.ndarray, np.ndarray], y_scale: tuple[float, float],
                 n_rows: int, seed: int) -> None:
        self.space, self.metric, self.model = space, metric, model
        self._members, self._x_scale, self._y_scale = members, x_scale, y_scale
        self.n_rows, self.seed = n_rows, seed

    def _x(self, designs: Any) -> np.ndarray:
        if isinstance(designs, Mapping):
            designs = [designs]
        x = _features(self.space, list(designs))
        return (x - self._x_scale[0]) / self._x_scale[1]

    def predict(self, designs: Any) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) of the metric for each design: the ensemble members' mean and
        standard deviation, or the GP posterior mean and standard deviation."""
        x = self._x(designs)
        mu, sd = self._y_scale
        if self.model == "gp":
            m, s = self._members[0].predict(x, return_std=True)
            return m * sd + mu, s * sd
        preds = np.stack([member.predict(x) for member in self._members]) * sd + mu
        return preds.mean(axis=0), preds.std(axis=0)

    def __call__(self, designs: Any) -> np.ndarray:
        return self.predict(designs)[0]

    def __repr__(self) -> str:
        return (f"TablePredictor({self.space.name!r}, metric={self.metric!r}, "
                f"model={self.model!r}, rows={self.n_rows}, seed={self.seed})")


def _lbfgs(objective: Any, theta0: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """scikit-learn's L-BFGS-B, capped at :data:`_GP_MAX_ITER` iterations (it otherwise runs
    70-90 on Accel-NASBench, for no better held-out ranking)."""
    from scipy.optimize import minimize
    res = minimize(objective, theta0, method="L-BFGS-B", jac=True, bounds=bounds,
                   options={"maxiter": _GP_MAX_ITER})
    return res.x, float(res.fun)


def _members(model: str, x: np.ndarray, y: np.ndarray, seed: int) -> list[Any]:
    if model == "gbt":
        from sklearn.ensemble import GradientBoostingRegressor
        return [GradientBoostingRegressor(n_estimators=600, learning_rate=0.03, max_depth=4,
                                          subsample=0.8, min_samples_leaf=3,
                                          random_state=seed * _MEMBERS + i).fit(x, y)
                for i in range(_MEMBERS)]
    if model == "mlp":
        from sklearn.neural_network import MLPRegressor
        return [MLPRegressor(hidden_layer_sizes=(128, 128), alpha=1e-3, learning_rate_init=1e-3,
                             max_iter=400, early_stopping=len(y) >= 200, n_iter_no_change=20,
                             random_state=seed * _MEMBERS + i).fit(x, y)
                for i in range(_MEMBERS)]
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    # length scales start at sqrt(d): standardised rows then sit ~1 length scale apart (from
    # 1 every pair is uncorrelated, and the likelihood has no gradient to leave it)
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) \
        * Matern(np.full(x.shape[1], np.sqrt(x.shape[1])), (1e-2, 1e3), nu=2.5) \
        + WhiteKernel(0.1, (1e-4, 1.0))
    rng = np.random.default_rng(seed)
    sub = rng.permutation(len(y))[:_GP_FIT_ROWS]
    gp = GaussianProcessRegressor(kernel, optimizer=_lbfgs, normalize_y=False,
                                  random_state=seed)
    gp.fit(x[sub], y[sub])
    return [_GPPosterior(gp.kernel_, x, y)]


class _GPPosterior:
    """The GP with fitted hyperparameters conditioned on every row: one kernel matrix and one
    Cholesky factor (scikit-learn's ``fit(optimizer=None)`` builds both twice, the second
    time for a log likelihood nobody reads). ``predict(x, return_std=True)`` as scikit-learn's,
    the standard deviation including the fitted noise."""

    def __init__(self, kernel: Any, x: np.ndarray, y: np.ndarray) -> None:
        from scipy.linalg import cho_solve, cholesky
        k = kernel(x)
        k[np.diag_indices_from(k)] += 1e-10          # scikit-learn's default jitter (alpha)
        self._l = cholesky(k, lower=True, overwrite_a=True, check_finite=False)
        self._alpha = cho_solve((self._l, True), y, check_finite=False)
        self.kernel_, self._x = kernel, x

    def predict(self, x: np.ndarray, return_std: bool = False) -> Any:
        from scipy.linalg import solve_triangular
        k_star = self.kernel_(x, self._x)
        mean = k_star @ self._alpha
        if not return_std:
            return mean
        v = solve_triangular(self._l, k_star.T, lower=True, check_finite=False)
        var = self.kernel_.diag(x) - np.einsum("ij,ij->j", v, v)
        return mean, np.sqrt(np.clip(var, 0.0, None))


def fit_table_predictor(space: Any, rows: Iterable[Mapping[str, Any]], metric: str,
                        seed: int = 0, model: str = "gbt",
                        what: str = "table") -> TablePredictor:
    """Fit a predictor of ``metric`` on a table of designs (see :func:`read_table`).

    Args:
        space: the :class:`~moo_cosearch.space.JointSpace` whose NAS parameters the rows hold.
        rows: dicts of the NAS parameter values plus ``metric``.
        metric: the column to learn.
        seed: seeds every random choice; the same seed gives the same predictor.
        model: one of :data:`PREDICTOR_MODELS`.
        what: how error messages name the table.

    Raises:
        ValueError: a bad table (:func:`read_table`) or an unknown ``model``.
    """
    if model not in PREDICTOR_MODELS:
        raise ValueError(f"predictor model must be one of {list(PREDICTOR_MODELS)}, "
                         f"got {model!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    designs, y = read_table(space, rows, metric, what)
    x = _features(space, designs)
    x_mu, x_sd = x.mean(axis=0), x.std(axis=0)
    x_sd = np.where(x_sd > 0, x_sd, 1.0)
    y_mu, y_sd = float(y.mean()), float(y.std()) or 1.0
    members = _members(model, (x - x_mu) / x_sd, (y - y_mu) / y_sd, int(seed))
    return TablePredictor(space, metric, model, members, (x_mu, x_sd), (y_mu, y_sd),
                          len(y), int(seed))
