"""Accuracy learned from a table of trained networks (source ``predictor``).

``accuracy = { source = "predictor", data = "my_table.csv", metric = "val_top1" }`` fits a
predictor (:func:`fit_predictor`) on a CSV of the space's NAS parameter values plus the metric,
and predicts every design the search meets; ``data = "accel-nasbench"`` (the default) is the
shipped Accel-NASBench table (5,125 MnasNet-space networks with ImageNet top-1 / top-5,
``moo_cosearch/data/accel_nasbench_mnas.md``), for spaces over the ``anb-mnas`` family.

The table is checked when the source is built (a missing column, a NaN, a value off the
space's grid, a design repeated with another value, too few rows: one line naming the row);
the fit runs on the first evaluation (one progress line on stderr when the table has more
than a few hundred rows) and is kept for the process: sources with the same table (a user's CSV
by path, size and modification time), metric, model, seed and space definition share one fit,
so the runs of a ``compare`` in one process fit once. Each evaluation leaves the predictive spread (GP
posterior or ensemble standard deviation) in ``last`` (``accuracy_sd``), which the objective
records as a trial user attr.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..surrogate import (PREDICTOR_MODELS, TablePredictor, fit_table_predictor, read_table,
                         table_rows)
from ._registry import register_source

__all__ = ["BUILTIN_TABLES", "DEFAULT_PREDICTOR", "PredictorAccuracy", "fit_predictor"]

#: The model family :func:`fit_predictor` uses unless told (chosen by
#: ``benchmarks/bench_accuracy_predictor.py``: highest held-out Kendall tau from 300 rows and
#: from 80 % of the Accel-NASBench table).
DEFAULT_PREDICTOR = "gp"
#: Tables shipped with the package, by the name ``data`` gives.
BUILTIN_TABLES = {"accel-nasbench": "accel_nasbench_mnas.csv.gz"}
#: Fitted predictors of this process, by (table identity, metric, model, seed, space hash).
_FITTED: dict[tuple[Any, ...], TablePredictor] = {}
_QUIET_ROWS = 300     # fits on fewer rows take about a second: no progress line


def fit_predictor(space: Any, rows: Iterable[Mapping[str, Any]], metric: str, seed: int = 0,
                  model: str = DEFAULT_PREDICTOR) -> TablePredictor:
    """Fit a predictor of ``metric`` from rows of trained designs.

    Args:
        space: the :class:`~moo_cosearch.space.JointSpace` the designs come from.
        rows: dicts of the space's (searched) NAS parameter values plus ``metric``.
        metric: the column to predict (e.g. ``"val_top1"``).
        seed: seeds the fit; the same seed and rows give the same predictions.
        model: ``"gp"`` (default), ``"gbt"`` or ``"mlp"``.

    Returns:
        A callable ``designs -> np.ndarray`` (a list of design dicts, or one dict); its
        ``predict(designs)`` gives ``(mean, spread)``.

    Raises:
        ValueError: a bad table (one line naming the row) or an unknown model.
    """
    return fit_table_predictor(space, rows, metric, seed=seed, model=model)


def _rows(data: str) -> tuple[list[dict[str, Any]], str]:
    if data in BUILTIN_TABLES:
        return table_rows(resources.files("moo_cosearch.data") / BUILTIN_TABLES[data]), data
    return table_rows(Path(data).expanduser()), Path(data).name


def _table_identity(data: str) -> tuple[Any, ...]:
    """A built-in table by name; a user's file by resolved path, size and mtime (an edited
    file is fitted again)."""
    if data in BUILTIN_TABLES:
        return ("builtin", data)
    path = Path(data).expanduser().resolve()
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


class PredictorAccuracy:
    """Accuracy (%) of a design predicted from a table (see the module docstring).

    Args:
        data: a CSV path (``.csv`` / ``.csv.gz``) or a built-in table name
            (:data:`BUILTIN_TABLES`).
        metric: the column to predict.
        model: a model family of :data:`~moo_cosearch.surrogate.PREDICTOR_MODELS`.
        seed: seed of the fit.
        space: the joint space (given by the objective; needed to read the table).
    """

    def __init__(self, data: str = "accel-nasbench", metric: str = "val_top1",
                 model: str = DEFAULT_PREDICTOR, seed: int = 0, space: Any = None) -> None:
        if not isinstance(data, str) or not data:
            raise ValueError(f"predictor data must be a CSV path or one of "
                             f"{sorted(BUILTIN_TABLES)}, got {data!r}")
        if model not in PREDICTOR_MODELS:
            raise ValueError(f"predictor model must be one of {list(PREDICTOR_MODELS)}, "
                             f"got {model!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"predictor seed must be an integer, got {seed!r}")
        self.data, self.metric, self.model, self.seed = data, metric, model, seed
        self.space = space
        self.last: dict[str, float] = {}
        self._predictor: TablePredictor | None = None
        self._rows: list[dict[str, Any]] | None = None
        if space is not None:           # check the table now: bad input fails at load
            self._rows, name = _rows(data)
            read_table(space, self._rows, metric, what=f"table {name}")

    def predictor(self) -> TablePredictor:
        """The fitted predictor (fitted on first use)."""
        if self.space is None:
            raise ValueError("the predictor source needs the space (objective sets pass it)")
        if self._predictor is None:
            key = (_table_identity(self.data), self.metric, self.model, self.seed,
                   self.space.definition_hash)
            if key not in _FITTED:
                rows, name = (self._rows, self.data) if self._rows is not None \
                    else _rows(self.data)
                if len(rows) > _QUIET_ROWS:
                    from tqdm import tqdm     # writes above a running progress bar

                    tqdm.write(f"accuracy: fitting the {self.model} predictor of {self.metric} "
                               f"on table {name} ({len(rows)} rows; once per process) ...",
                               file=sys.stderr)
                _FITTED[key] = fit_table_predictor(self.space, rows, self.metric,
                                                   seed=self.seed, model=self.model,
                                                   what=f"table {name}")
            self._predictor = _FITTED[key]
        return self._predictor

    def __call__(self, design: Mapping[str, Any]) -> float:
        mean, sd = self.predictor().predict([design])
        self.last = {"accuracy_sd": float(sd[0])}
        return float(mean[0])

    def predict(self, designs: Iterable[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) for many designs at once."""
        return self.predictor().predict(list(designs))


def _check(data: str = "accel-nasbench", metric: str = "val_top1",
           model: str = DEFAULT_PREDICTOR, seed: int = 0, space: Any = None) -> None:
    PredictorAccuracy(data, metric, model, seed, space)


register_source("predictor", PredictorAccuracy,
                "learned from a table of trained designs (data = CSV or 'accel-nasbench', "
                "metric = column; GP by default)", check=_check)
