"""The ``train`` accuracy source: real short training on scikit-learn's digits (and an image
folder, and a user's datasets), one report per epoch reaching Optuna's pruner, determinism
with a seed, mean IoU for NASAIC's U-Net. Small settings (8x8 images, few batches) keep the
file within seconds on one CPU thread."""

from __future__ import annotations

import textwrap

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from moo_cosearch import load_space, make_objective
from moo_cosearch.accuracy import check_spec
from moo_cosearch.accuracy.training import TrainedAccuracy, mean_iou
from moo_cosearch.networks.nb201 import EDGE_PARAMS

load_digits = pytest.importorskip("sklearn.datasets").load_digits
optuna.logging.set_verbosity(optuna.logging.WARNING)

NB201 = load_space("nb201-edge")
GOOD = NB201.baseline                                             # conv 3x3 cell
NONE = dict(GOOD, **{e: "none" for e in EDGE_PARAMS})             # cell outputs zeros
POOL = dict(GOOD, **{e: "avg_pool_3x3" for e in EDGE_PARAMS})     # no conv in the cells: cheap
FAST = dict(resolution=8, epochs=2, max_train_batches=8, lr=0.1)  # 8x8: the digits' own size


def test_mean_iou_by_hand():
    # truth rows, prediction columns: IoU0 = 3 / (3+1+2) = 1/2, IoU1 = 4 / (4+2+1) = 4/7;
    # class 2 is in neither truth nor prediction and does not count
    conf = torch.tensor([[3, 1, 0], [2, 4, 0], [0, 0, 0]])
    assert mean_iou(conf) == pytest.approx(100 * (1 / 2 + 4 / 7) / 2)
    assert mean_iou(torch.eye(4, dtype=torch.long) * 7) == pytest.approx(100.0)


def test_digits_splits_are_sklearns_images_and_labels():
    src = TrainedAccuracy(NB201, resolution=8)
    train, val, n, seg = src.data(GOOD)
    assert (n, seg) == (10, False)
    truth = load_digits()
    counts = np.bincount(truth.target)
    assert len(val) == sum(int(round(0.2 * c)) for c in counts) == 359
    assert len(train) + len(val) == 1797
    x, y = train.tensors
    assert x.shape == (1438, 3, 8, 8) and torch.equal(x[:, 0], x[:, 2])
    # 8 -> 8 bilinear is the identity: with the normalisation undone (min-max: the split has
    # blank and full-ink pixels) every training image is one of sklearn's / 16, with its label
    raw = x[:, 0].numpy()
    raw = (raw - raw.min()) / (raw.max() - raw.min())
    theirs = {(img.tobytes(), int(lab)) for img, lab in
              zip(np.round(truth.images / 16.0, 4).astype(np.float32), truth.target)}
    mine = {(img.tobytes(), int(lab)) for img, lab in
            zip(np.round(raw, 4).astype(np.float32), y.numpy())}
    assert mine <= theirs
    assert np.array_equal(np.bincount(y.numpy()) + np.bincount(val.tensors[1].numpy()), counts)


@pytest.mark.slow
def test_short_training_ranks_a_real_cell_above_an_empty_one_and_reports_each_epoch():
    src = TrainedAccuracy(NB201, **FAST)
    seen: list[tuple[int, float]] = []
    good = src(GOOD, report=lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == [1, 2] and seen[-1][1] == good
    none = src(NONE)
    # an all-"none" cell passes zeros: the network sees no image, so chance level (the
    # largest digit class is 37 of 359 validation images, 10.3 %)
    assert none <= 100 * 37 / 359 + 1e-9
    assert good > 60.0
    assert (src.epochs_spent, src.trainings) == (4, 2)


@pytest.mark.slow
def test_same_seed_same_curve_other_seed_other_curve_and_callers_rng_untouched():
    curves = []
    for seed in (3, 3, 4):
        curve: list[float] = []
        TrainedAccuracy(NB201, seed=seed, **FAST)(POOL, report=lambda s, v: curve.append(v))
        curves.append(curve)
    assert curves[0] == curves[1]
    assert curves[0] != curves[2]
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    TrainedAccuracy(NB201, seed=9, **FAST)(NONE)
    assert torch.equal(torch.rand(3), expected)
    assert not torch.are_deterministic_algorithms_enabled()   # switched on only while training


def _single_objective(tmp_path) -> str:
    path = tmp_path / "train.toml"
    path.write_text(textwrap.dedent("""\
        name = "nb201-trained-accuracy"
        space = "nb201-edge"
        accuracy = { source = "train", space = "nb201-edge", resolution = 8, epochs = 3, \
        max_train_batches = 6, lr = 0.1 }
        cost = "edge"

        [[objectives]]
        metric = "accuracy"
        direction = "maximize"
        """))
    return str(path)


@pytest.mark.slow
def test_median_pruner_stops_poor_cells_in_a_real_study(tmp_path):
    obj = make_objective(NB201, _single_objective(tmp_path))
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    ops = ["nor_conv_3x3", "nor_conv_1x1", "none", "avg_pool_3x3", "skip_connect"]
    for k, op in enumerate(ops):      # two conv cells first, then cells without any conv
        study.enqueue_trial(dict(GOOD, edge0=op, edge5=op if k < 2 else "none",
                                 **({e: op for e in EDGE_PARAMS[1:5]} if k >= 2 else {})))
    study.optimize(obj, n_trials=len(ops))
    done, rest = study.trials[:2], study.trials[2:]
    for t in done:
        assert t.state == TrialState.COMPLETE and list(t.intermediate_values) == [1, 2, 3]
        assert t.value == t.intermediate_values[3] == t.user_attrs["accuracy"]
    # each conv-free cell went on while at least the median of the two complete trials (their
    # mean) and stopped at the first epoch below it
    for t in rest:
        assert t.state == TrialState.PRUNED
        steps = list(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1)) and len(steps) < 3
        median = {s: np.mean([d.intermediate_values[s] for d in done]) for s in steps}
        assert all(t.intermediate_values[s] >= median[s] for s in steps[:-1])
        assert t.intermediate_values[steps[-1]] < median[steps[-1]]
    assert list(rest[0].intermediate_values) == [1]   # the empty cell: chance after one epoch
    src = obj.accuracy.fn
    assert src.epochs_spent == sum(len(t.intermediate_values) for t in study.trials) < 15


@pytest.mark.slow
def test_image_folder_and_dataset_function(tmp_path, monkeypatch):
    from PIL import Image

    digits = load_digits()
    root = tmp_path / "folder"
    for label in (3, 7):
        (root / f"digit{label}").mkdir(parents=True)
        for i in np.flatnonzero(digits.target == label)[:30]:
            Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(
                root / f"digit{label}" / f"{i}.png")
    (root / "digit3" / "notes.txt").write_text("not an image")
    src = TrainedAccuracy(NB201, dataset=str(root), resolution=8, epochs=1, batch_size=16)
    train, val, n, seg = src.data(GOOD)
    assert (len(train), len(val), n, seg) == (48, 12, 2, False)
    x, y = val[0]
    assert x.shape == (3, 8, 8) and -1.0 <= float(x.min()) <= float(x.max()) <= 1.0
    assert sorted(val[i][1] for i in range(len(val))) == [0] * 6 + [1] * 6
    assert 0.0 <= src(POOL) <= 100.0 and src.epochs_spent == 1

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_digit_data.py").write_text(textwrap.dedent("""\
        import torch
        from torch.utils.data import TensorDataset

        def pairs():
            g = torch.Generator().manual_seed(0)
            x = torch.randn(40, 3, 8, 8, generator=g)
            y = torch.arange(40) % 3
            x[:, 0] += y.view(-1, 1, 1) * 3.0       # class written into channel 0
            return TensorDataset(x[:32], y[:32]), TensorDataset(x[32:], y[32:])
        """))
    fn = TrainedAccuracy(NB201, dataset="my_digit_data:pairs", resolution=8, epochs=2,
                         batch_size=8, lr=0.1)
    assert fn.data(POOL)[2] == 3                 # classes from the largest label + 1
    assert 0.0 <= fn(POOL) <= 100.0


@pytest.mark.slow
def test_nasaic_unet_scores_mean_iou_of_digit_strokes():
    space = load_space("nasaic-w1")
    design = dict(space.sample(1, seed=0)[0], t1_height=2, t1_f0_filters=16, t1_f1_filters=16,
                  t1_f2_filters=16)
    src = TrainedAccuracy(space, task=1, resolution=8, epochs=3, lr=0.2)
    train, val, n, seg = src.data(design)
    assert (n, seg) == (11, True)
    images, masks = val.tensors
    digits = load_digits()
    # the target, rebuilt from sklearn's images: at 8x8 a pixel is foreground when > 8/16,
    # and carries its digit + 1
    one = int(torch.nonzero(masks.flatten(1).amax(1) > 0)[0])
    labels = {int(v) for v in masks[one].unique()} - {0}
    assert len(labels) == 1
    match = [i for i in range(len(digits.images))
             if np.array_equal(digits.images[i] / 16.0 > 0.5, (masks[one] > 0).numpy())
             and digits.target[i] + 1 in labels]
    assert match
    background = float((masks == 0).double().mean())
    score = src(design)
    # far above the all-background answer (IoU = background share on class 0, 0 elsewhere)
    assert score > 2 * 100 * background / 11


@pytest.mark.parametrize("spec, word", [
    ({"space": "no-such-space"}, "unknown space"),
    ({"space": "nb201-edge", "epochs": 0}, "epochs"),
    ({"space": "nb201-edge", "lr": -1}, "lr"),
    ({"space": "nb201-edge", "dataset": "/no/such/folder"}, "dataset"),
    ({"space": "nb201-edge", "device": "gpu"}, "device"),
    ({"space": "nb201-edge", "task": 1}, "task"),
    ({"space": "nasaic-w1"}, "task"),
    ({"space": "nb201-edge", "num_classes": 5}, "num_classes"),
    ({"space": "nb201-edge", "dataset": "no_such_module_xyz:data"}, "does not import"),
    ({"space": "nb201-edge", "max_train_batches": 1.5}, "max_train_batches"),
])
def test_bad_options_are_refused_in_one_line(spec, word):
    with pytest.raises(ValueError, match=word) as err:
        check_spec({"source": "train", **spec})
    assert "\n" not in str(err.value)


def test_options_check_without_a_space_but_training_needs_one():
    check_spec({"source": "train", "epochs": 2})
    with pytest.raises(ValueError, match="no space"):
        TrainedAccuracy(epochs=1)(GOOD)
