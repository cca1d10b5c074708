"""The learned-table accuracy source: fit_predictor, the ``predictor`` source, bad tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from moo_cosearch.accuracy import check_spec, fit_predictor, make_accuracy
from moo_cosearch.space import load_space
from moo_cosearch.surrogate import MIN_ROWS, table_rows

SPACE = load_space("anb-mnas-edge")
NAS = [p.name for p in SPACE.group("nas")]


def _rows(n: int = 40, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for d in SPACE.sample(n, seed=seed):
        row = {k: d[k] for k in NAS}
        # a smooth synthetic target: more expansion and layers, more accuracy
        row["val_top1"] = float(50 + sum(row[f"b{i}_expansion"] + 2 * row[f"b{i}_layers"]
                                         for i in range(7)) / 5 + rng.normal(0, 0.1))
        out.append(row)
    return out


def _write(path: Path, rows: list[dict]) -> Path:
    cols = list(rows[0])
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.mark.parametrize("model", ["gp", pytest.param("gbt", marks=pytest.mark.slow),
                                   pytest.param("mlp", marks=pytest.mark.slow)])
def test_fit_is_deterministic_for_a_seed(model):
    rows = _rows(40)
    a = fit_predictor(SPACE, rows, "val_top1", seed=3, model=model)
    b = fit_predictor(SPACE, rows, "val_top1", seed=3, model=model)
    designs = SPACE.sample(10, seed=9)
    np.testing.assert_array_equal(a(designs), b(designs))
    np.testing.assert_array_equal(a.predict(designs)[1], b.predict(designs)[1])
    assert a(designs).shape == (10,) and a(designs[0]).shape == (1,)
    assert np.all(a.predict(designs)[1] >= 0)


@pytest.mark.slow
def test_fit_learns_the_table():
    rows = _rows(250)
    pred = fit_predictor(SPACE, rows[:200], "val_top1")
    test = rows[200:]
    y = np.array([r["val_top1"] for r in test])
    assert np.corrcoef(pred(test), y)[0, 1] > 0.8


def _bad(rows, i, **change):
    rows = [dict(r) for r in rows]
    rows[i].update(change)
    return rows


@pytest.mark.parametrize("make, msg", [
    (lambda r: [{k: v for k, v in x.items() if k != "b3_kernel"} for x in r],
     r"row 1: needs column 'b3_kernel'"),
    (lambda r: _bad(r, 4, val_top1=float("nan")), r"row 5: val_top1 must be a finite number"),
    (lambda r: _bad(r, 6, b2_kernel=7), r"row 7: b2_kernel must be one of \[3, 5\], got 7"),
    (lambda r: _bad(r, 2, b0_layers=4), r"row 3: b0_layers must be one of \[1, 2, 3\]"),
    (lambda r: r + [dict(r[1], val_top1=r[1]["val_top1"] + 1)],
     r"row 41: repeats the design of row 2 with val_top1"),
    (lambda r: r[:MIN_ROWS - 1], rf"needs at least {MIN_ROWS} distinct designs"),
])
def test_bad_tables_fail_at_load_naming_the_row(tmp_path, make, msg):
    rows = make(_rows(40))
    with pytest.raises(ValueError, match=msg) as err:
        fit_predictor(SPACE, rows, "val_top1")
    assert "\n" not in str(err.value)
    # the same table as a CSV fails when the objective's source is built, before any fit
    path = _write(tmp_path / "t.csv", rows)
    spec = {"source": "predictor", "data": str(path), "metric": "val_top1"}
    with pytest.raises(ValueError, match=msg):
        make_accuracy(spec, SPACE)


def test_identical_repeats_are_accepted():
    rows = _rows(40)
    fit_predictor(SPACE, rows + [dict(rows[0])], "val_top1")


def test_source_from_a_user_csv_records_its_spread(tmp_path):
    path = _write(tmp_path / "mine.csv", _rows(40))
    spec = {"source": "predictor", "data": str(path), "metric": "val_top1"}
    check_spec(spec)
    acc = make_accuracy(spec, SPACE)
    d = SPACE.baseline
    value = acc(d)
    assert 40 < value < 80
    assert acc.last["accuracy_sd"] >= 0
    assert acc(d) == value


def test_unknown_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="predictor model must be one of"):
        check_spec({"source": "predictor", "model": "xgb"})
    with pytest.raises(ValueError, match="table file must exist"):
        make_accuracy({"source": "predictor", "data": str(tmp_path / "none.csv")}, SPACE)


@pytest.mark.slow
def test_shipped_accel_nasbench_table_loads_clean():
    from importlib import resources
    rows = table_rows(resources.files("moo_cosearch.data") / "accel_nasbench_mnas.csv.gz")
    assert len(rows) == 5125
    acc = make_accuracy({"source": "predictor", "metric": "val_top1"}, SPACE)
    assert acc.data == "accel-nasbench" and acc.model == "gp"


def test_sources_share_one_fit_per_process_until_the_file_changes(tmp_path):
    import os

    path = _write(tmp_path / "mine.csv", _rows(40))
    spec = {"source": "predictor", "data": str(path), "metric": "val_top1"}
    a, b = make_accuracy(spec, SPACE), make_accuracy(spec, SPACE)
    assert a.predictor() is b.predictor()
    other_seed = make_accuracy(dict(spec, seed=1), SPACE)
    assert other_seed.predictor() is not a.predictor()
    _write(path, _rows(40, seed=5))                    # the user edits the table: fitted again
    os.utime(path, ns=(os.stat(path).st_mtime_ns + 10**9,) * 2)
    c = make_accuracy(spec, SPACE)
    assert c.predictor() is not a.predictor()
    assert c(SPACE.baseline) != a(SPACE.baseline)


def test_the_pareto_table_names_imagenet_top1_for_the_accel_nasbench_set():
    from moo_cosearch.analysis import accuracy_label
    from moo_cosearch.analysis.report import _label
    from moo_cosearch.objectives import load_objectives

    obj = load_objectives("anb-mnas-top1-latency-area")
    assert _label("accuracy", accuracy_label(obj.accuracy)) == "ImageNet top-1 (%)"
    assert _label("latency_ms", accuracy_label(obj.accuracy)) == "latency_ms"
