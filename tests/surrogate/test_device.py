"""The measured-device latency predictor: canonicalisation, features, fit, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from moo_cosearch.hardware.table import device_table
from moo_cosearch.networks.nb201 import OPS as NB201_OPS
from moo_cosearch.networks.nb201 import arch_codes
from moo_cosearch.surrogate import (DevicePredictor, FitConfig, SurrogateError,
                                    fit_device_predictor, load_device_predictor,
                                    regression_metrics)
from moo_cosearch.networks.nb201 import (canonical_ops, cell_ops, live_edges,
                                         representative_ops, unique_str)
from moo_cosearch.surrogate._device import cell_features

N, SK, C1, C3, P = range(5)


def test_cell_ops_accepts_strings_dicts_and_indices():
    s = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
    want = [[C3, N, SK, C1, P, N]]
    assert cell_ops([s]).tolist() == want
    d = {f"edge{i}": NB201_OPS[o] for i, o in enumerate(want[0])}
    assert cell_ops([d]).tolist() == want
    assert cell_ops(np.array(want)).tolist() == want
    with pytest.raises(ValueError, match="must look like"):
        cell_ops(["|nor_conv_3x3~0|"])
    with pytest.raises(ValueError, match="ops must be one of"):
        cell_ops([["conv5x5"] * 6])


def test_dead_edges_hand_checked():
    # only the 0->3 conv is live
    one = cell_ops(["|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"])
    assert live_edges(one).tolist() == [[False, False, False, True, False, False]]
    # conv on 1->2 with 0->1 = none: its input is zero, dead; so is 2->3 (node 2 unreachable)
    ops = np.array([[N, N, C3, SK, N, SK]])
    assert live_edges(ops).tolist() == [[False, False, False, True, False, False]]
    # conv on 0->1 whose node 1 reaches nothing (1->2, 1->3 none): dead
    ops = np.array([[C3, C1, N, N, N, P]])
    assert live_edges(ops).tolist() == [[False, True, False, False, False, True]]
    assert canonical_ops(ops).tolist() == [[N, C1, N, N, N, P]]
    # a fully connected cell keeps every edge; an all-none cell has none
    assert live_edges(np.full((1, 6), C3)).all()
    assert not live_edges(np.zeros((1, 6), int)).any()
    # node 1 reaches the output only through node 2
    assert live_edges(np.array([[C1, N, SK, N, N, C3]])).tolist() == [
        [True, False, True, False, False, True]]


@pytest.mark.slow
def test_structure_features_count_live_ops_and_depth():
    x, names = cell_features(np.array([[C3, C1, C3, N, SK, C3], [N, N, C3, SK, N, SK]]),
                             "live")
    f = [dict(zip(names, row)) for row in x]
    assert f[0]["live_n_nor_conv_3x3"] == 3 and f[0]["longest_path_conv3x3"] == 3
    assert f[0]["longest_path_ops"] == 3 and f[0]["live_adds"] == 2
    assert f[1]["raw_n_nor_conv_3x3"] == 1 and f[1]["live_n_nor_conv_3x3"] == 0
    assert f[1]["live_log_macs"] < f[1]["raw_log_macs"] and f[1]["connected"] == 1
    assert cell_features(np.zeros((1, 6), int), "onehot")[0].shape == (1, 30)
    with pytest.raises(ValueError, match="features must be one of"):
        cell_features(np.zeros((1, 6), int), "graph")


def test_isomorphism_classes_match_the_table():
    # NAS-Bench-201's own dedup gives 6,466 classes; the measured table is constant on each
    all_ops = (np.arange(5 ** 6)[:, None] // 5 ** np.arange(6)) % 5
    keys = [unique_str(o) for o in all_ops]
    assert len(set(keys)) == 6466
    rep = arch_codes(representative_ops(all_ops))
    assert len(set(rep.tolist())) == 6466
    lat = device_table().latency_ms[1]
    assert np.array_equal(lat, lat[rep])
    # skip_connect is identity, sums commute; a different op changes the key
    assert unique_str([SK, N, N, N, C3, N]) == unique_str([N, N, N, C3, N, N])
    assert unique_str([SK, N, N, C3, C1, N]) == unique_str([SK, N, N, C1, C3, N])
    assert unique_str([SK, N, N, C3, C1, N]) != unique_str([SK, N, N, C3, C3, N])


@pytest.mark.slow
def test_small_fit_beats_the_mean_and_round_trips(tmp_path):
    cfg = FitConfig(hidden=(64, 64), dropout=0.0, lr=3e-3, batch_size=32, max_epochs=40,
                    patience=10, ensemble=1, val_frac=0.1, test_frac=0.0, seed=0, device="cpu")
    pred = fit_device_predictor("pi5", "onnx", n_train=300, seed=0, config=cfg)
    assert isinstance(pred, DevicePredictor) and pred.device == "pi5-onnx"
    m = pred.meta["metrics"]
    lat = device_table().latency_ms[1]
    test = np.setdiff1d(np.arange(5 ** 6), np.asarray(
        [np.flatnonzero(device_table().nb201_index == i)[0]
         for i in pred.meta["data"]["train_nb201_index"]]))
    assert m["n"] == len(test) == 5 ** 6 - 300
    mean = regression_metrics(lat[test], np.full(len(test), np.exp(np.log(lat).mean())))
    assert m["mape_pct"] < 0.6 * mean["mape_pct"] and m["kendall_tau"] > 0.6
    assert m["within_10pct"] > mean["within_10pct"] + 20
    s = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
    path = pred.save(tmp_path / "dev.pt")
    again = load_device_predictor(path)
    assert again.device == "pi5-onnx" and again.meta["metrics"] == pytest.approx(m)
    np.testing.assert_allclose(again.predict([s]), pred.predict([s]))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SurrogateError, match="checksum"):
        load_device_predictor(path)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"device must be one of .*got 'pi4-onnx'"):
        fit_device_predictor("pi4", "onnx")
    with pytest.raises(ValueError, match="n_train must lie in"):
        fit_device_predictor("pi5-onnx", n_train=20_000)
