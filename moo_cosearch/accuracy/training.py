"""Accuracy by short training (source ``train``): build the design's network, train it for a
few epochs, score it on held-out images, and report every epoch so Optuna's pruners can stop
a poor trial early.

    accuracy = { source = "train", space = "nb201-edge", epochs = 3 }

The score is validation accuracy in percent, or for a network with per-pixel outputs (NASAIC's
U-Net, ``task = 1``) the mean intersection-over-union in percent. Data: scikit-learn's digits
by default (offline, real), an image folder, or your own ``(train, val)`` datasets (see
:class:`TrainedAccuracy`). A few epochs on a small set rank networks roughly, not as full
training would: use it where no table exists, with a pruner to spend epochs on the promising.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..models import WORKLOADS, build_model, list_model_families
from ..space import JointSpace, load_space
from ._train_data import dataset_function, dataset_kind, digits, image_folder, user_datasets
from ._registry import register_source

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

__all__ = ["TrainedAccuracy", "mean_iou"]

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"train {what} must be a positive integer, got {value!r}")
    return value


def _positive_float(value: Any, what: str, zero_ok: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(f"train {what} must be a finite number {'>=' if zero_ok else '>'} 0, "
                         f"got {value!r}")
    return float(value)


class TrainedAccuracy:
    """Train each design's network briefly and return its validation accuracy (%).

    Per call: the network of ``design`` (:func:`moo_cosearch.models.build_model`) is built
    with ``torch.manual_seed(seed)`` (the caller's random state is left as it was), trained
    with SGD (momentum, Nesterov, weight decay, cross-entropy, cosine learning rate over all
    batches of all epochs), and after every epoch scored on the validation split and
    reported as ``report(epoch, score)`` (steps 1 .. ``epochs``: epochs trained, so
    ``MedianPruner(n_warmup_steps=k)`` first prunes after epoch ``k``), which raises
    ``optuna.TrialPruned`` when the study's pruner stops the trial. Same seed, same design,
    same data: the same score on the CPU (deterministic algorithms are switched on while
    training there); no such promise on a GPU, where cuDNN may choose non-deterministic
    kernels.

    Args:
        space: the joint space (name, TOML path or :class:`~moo_cosearch.space.JointSpace`)
            whose ``network`` family builds the designs. Options can be checked without it,
            but a call without a space raises ValueError.
        dataset: ``"digits"`` (scikit-learn's 1,797 8x8 digits, resized; 20 % of each digit
            held out), a folder of images with one subfolder per class (``train/`` and
            ``val/`` subfolders when both exist, else 20 % of each class held out), or
            ``"package.module:function"`` returning ``(train_dataset, val_dataset)`` torch
            datasets of ``(image (3, R, R) float tensor, class index or (R, R) class map)``.
        epochs: epochs per design (one epoch: a pass over the training split, or
            ``max_train_batches`` batches of it).
        batch_size: training batch size (the last incomplete batch is dropped).
        lr, momentum, weight_decay: SGD's.
        seed: weights and batch order.
        resolution: images are resized to this square side (digits: from 8x8, bilinear).
            16 by default: four times cheaper than 32 and still twice the digits' own size.
        device: ``"auto"`` (CUDA when torch sees a GPU, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or ``"mps"``.
        max_train_batches: cap on training batches per epoch (None: the whole split).
        task: for a NASAIC workload space, which task's network to train (0: ResNet-9
            classification, 1 on ``nasaic-w1``: the U-Net, scored by mean IoU).
        num_classes: classes of a dataset function's data (default: ``len(train.classes)``,
            else the largest target + 1); digits and folders know their own.

    A per-pixel network (output ``(N, C, R, R)``) on ``"digits"`` learns the segmentation
    derived from them: pixels brighter than 0.5 after resizing carry their digit's class
    (1..10), the rest background (0); the score is the mean IoU over those 11 classes.

    Attributes:
        epochs_spent: epochs trained by this source so far, those of pruned trials included
            (with a source built from an objective set: ``objective.accuracy.fn.epochs_spent``).
        trainings: networks whose training started.
    """

    def __init__(self, space: str | Path | JointSpace | None = None, dataset: str = "digits",
                 epochs: int = 3, batch_size: int = 64, lr: float = 0.05, momentum: float = 0.9,
                 weight_decay: float = 5e-4, seed: int = 0, resolution: int = 16,
                 device: str = "auto", max_train_batches: int | None = None,
                 task: int | None = None, num_classes: int | None = None) -> None:
        if task is not None and (isinstance(task, bool) or task not in (0, 1)):
            raise ValueError(f"train task must be 0 or 1, got {task!r}")
        self.space = None if space is None else \
            space if isinstance(space, JointSpace) else load_space(space)
        if self.space is not None:
            family = self.space.network
            if family not in list_model_families() and family not in WORKLOADS:
                raise ValueError(f"train: space {self.space.name!r} has network {family!r}, "
                                 f"which no torch builder makes (buildable: "
                                 f"{list_model_families()} and workloads {sorted(WORKLOADS)})")
            if (task is None) != (family not in WORKLOADS):
                raise ValueError(f"train task picks the network of a multi-task workload "
                                 f"{sorted(WORKLOADS)} (0 or 1) and is left out otherwise; "
                                 f"space {self.space.name!r} ({family}) got task={task!r}")
        self.kind = dataset_kind(dataset)
        self._function = dataset_function(dataset) if self.kind == "function" \
            else None
        if num_classes is not None:
            if self.kind != "function":
                raise ValueError(f"train num_classes is for a dataset function; {dataset!r} "
                                 f"knows its own classes")
            _positive_int(num_classes, "num_classes")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"train seed must be an integer, got {seed!r}")
        if not isinstance(device, str) or not _DEVICE_RE.match(device):
            raise ValueError(f"train device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', "
                             f"got {device!r}")
        if max_train_batches is not None:
            _positive_int(max_train_batches, "max_train_batches")
        self.dataset = dataset
        self.epochs = _positive_int(epochs, "epochs")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.lr = _positive_float(lr, "lr")
        self.momentum = _positive_float(momentum, "momentum", zero_ok=True)
        self.weight_decay = _positive_float(weight_decay, "weight_decay", zero_ok=True)
        self.resolution = _positive_int(resolution, "resolution")
        self.seed, self.device, self.task = seed, device, task
        self.max_train_batches, self.num_classes = max_train_batches, num_classes
        self.epochs_spent = 0
        self.trainings = 0
        self._data: tuple[Dataset, Dataset, int, bool] | None = None

    def _torch_device(self) -> "torch.device":
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"train device {self.device!r}: torch sees no CUDA device")
        return dev

    def _build(self, design: Mapping[str, Any], num_classes: int) -> "torch.nn.Module":
        if self.space is None:
            raise ValueError("train: no space to build networks from; give space = NAME in "
                             "the accuracy spec")
        return build_model(self.space, design, num_classes=num_classes,
                           resolution=self.resolution, task=self.task)

    def data(self, design: Mapping[str, Any]) -> tuple["Dataset", "Dataset", int, bool]:
        """(train, validation, classes, segmentation), loaded on the first call. Whether the
        networks are per-pixel is read off one of them (``design``'s): its output's rank."""
        if self._data is None:
            import torch

            probe = self._build(design, 2).eval()
            with torch.no_grad():
                out = probe(torch.zeros(2, 3, self.resolution, self.resolution))
            seg = out.dim() == 4
            if self._function is not None:
                train, val, n = user_datasets(self._function, self.dataset,
                                                          self.num_classes)
            elif self.kind == "folder":
                if seg:
                    raise ValueError(f"train dataset {self.dataset!r} is an image folder (one "
                                     f"label per image); a per-pixel network needs a dataset "
                                     f"function returning class maps")
                train, val, n = image_folder(self.dataset, self.resolution)
            else:
                train, val, n = digits(self.resolution, segmentation=seg)
            self._data = (train, val, n, seg)
        return self._data

    def __call__(self, design: Mapping[str, Any],
                 report: Callable[[int, float], None] | None = None) -> float:
        """Train ``design``'s network; its score after the last epoch (percent)."""
        import torch

        device = self._torch_device()
        forked = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=forked), _deterministic(device):
            train, val, n_classes, seg = self.data(design)   # its probe draws weights too
            torch.manual_seed(self.seed)
            model = self._build(design, n_classes).to(device)
            self.trainings += 1
            return self._fit(model, train, val, n_classes, seg, device, report)

    def _fit(self, model: "torch.nn.Module", train: "Dataset", val: "Dataset", n_classes: int,
             seg: bool, device: "torch.device",
             report: Callable[[int, float], None] | None) -> float:
        import torch
        import torch.nn.functional as F
        from torch.utils.data import DataLoader

        loader = DataLoader(train, batch_size=self.batch_size, shuffle=True,
                            drop_last=len(train) >= self.batch_size,
                            generator=torch.Generator().manual_seed(self.seed))
        per_epoch = len(loader) if self.max_train_batches is None \
            else min(len(loader), self.max_train_batches)
        opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                              nesterov=self.momentum > 0, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs * per_epoch)
        score = 0.0
        for epoch in range(1, self.epochs + 1):
            model.train()
            for b, (x, y) in enumerate(loader):
                if b == per_epoch:
                    break
                x, y = x.to(device), torch.as_tensor(y).long().to(device)
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()
                sched.step()
            score = _score(model, val, n_classes, seg, device)
            self.epochs_spent += 1
            if report is not None:
                report(epoch, score)
        return score


def _score(model: "torch.nn.Module", val: "Dataset", n_classes: int, seg: bool,
           device: "torch.device") -> float:
    """Validation accuracy (%), or mean IoU (%) for per-pixel outputs."""
    import torch
    from torch.utils.data import DataLoader

    model.eval()
    correct = total = 0
    confusion = torch.zeros(n_classes * n_classes, dtype=torch.long)
    with torch.no_grad():
        for x, y in DataLoader(val, batch_size=256):
            pred = model(x.to(device)).argmax(1).cpu()
            y = torch.as_tensor(y).long()
            if seg:
                confusion += torch.bincount((y * n_classes + pred).flatten(),
                                            minlength=n_classes * n_classes)
            else:
                correct += int((pred == y).sum())
                total += len(y)
    if seg:
        return mean_iou(confusion.view(n_classes, n_classes))
    return 100.0 * correct / total


def mean_iou(confusion: "torch.Tensor") -> float:
    """Mean intersection-over-union (%) of a ``(C, C)`` confusion matrix (rows: truth,
    columns: prediction) over the classes present in the truth or the prediction."""
    inter = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - inter
    present = union > 0
    return float(100.0 * (inter[present] / union[present]).mean())


@contextmanager
def _deterministic(device: "torch.device") -> Iterator[None]:
    """Deterministic torch algorithms while training on the CPU (restored afterwards)."""
    import torch

    if device.type != "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn)


register_source("train", TrainedAccuracy, "short training (digits, an image folder or your "
                "datasets); reports each epoch to Optuna's pruner")
