"""Datasets for the ``train`` accuracy source: scikit-learn's digits (classification, or a
per-pixel segmentation target derived from them), an image folder, or a user's function.

Every loader returns ``(train, val, num_classes)``: torch ``Dataset`` objects whose items are
``(image, target)``, a float tensor ``(3, R, R)`` and a class index (classification) or an
``(R, R)`` long tensor of per-pixel classes (segmentation). The validation split never depends
on the training seed, so every design of a study is scored on the same images.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

__all__ = ["IMAGE_SUFFIXES", "SEG_THRESHOLD", "VAL_FRACTION", "ImageFolder", "dataset_function",
           "dataset_kind", "digits", "image_folder", "user_datasets"]

#: Share of each class held out for validation (digits; a folder without a ``val`` split).
VAL_FRACTION = 0.2
#: Digit pixels brighter than this (resized intensity, [0, 1]) are the digit's foreground.
SEG_THRESHOLD = 0.5
#: Image files an image folder may hold (read with PIL; suffix case ignored).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_FUNCTION_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def dataset_kind(dataset: Any) -> str:
    """``"digits"``, ``"folder"`` or ``"function"``: which kind of ``dataset`` option this is.

    Raises:
        ValueError: none of the three (a folder must exist).
    """
    if dataset == "digits":
        return "digits"
    if isinstance(dataset, (str, Path)) and Path(dataset).is_dir():
        return "folder"
    if isinstance(dataset, str) and _FUNCTION_RE.match(dataset):
        return "function"
    raise ValueError(f"train dataset must be 'digits', an existing image folder or "
                     f"'package.module:function', got {dataset!r}")


def _stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices: :data:`VAL_FRACTION` of each class (at least one image)
    to validation, members drawn by a fixed generator (seed 0, whatever the training seed)."""
    rng = np.random.default_rng(0)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = max(1, int(round(VAL_FRACTION * len(idx))))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


@lru_cache(maxsize=4)
def _digits_tensors(resolution: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    """All 1,797 digits resized (bilinear) to ``resolution`` as intensities in [0, 1], shape
    (n, 1, R, R), and their labels."""
    import torch
    import torch.nn.functional as F

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError("train dataset 'digits' needs scikit-learn "
                         "(pip install scikit-learn)") from None
    data = load_digits()
    images = torch.from_numpy(np.asarray(data.images, dtype=np.float32) / 16.0).unsqueeze(1)
    images = F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                           align_corners=False).clamp_(0.0, 1.0)
    return images, torch.from_numpy(np.asarray(data.target, dtype=np.int64))


def digits(resolution: int, segmentation: bool = False
           ) -> tuple["Dataset", "Dataset", int]:
    """scikit-learn's 1,797 handwritten digits (8x8, UCI), resized to ``resolution`` and
    repeated over 3 channels, normalised by the training split's mean and deviation; 20 % of
    each digit held out for validation (359 images).

    Classification: 10 classes. Segmentation (a per-pixel network such as NASAIC's U-Net):
    each pixel brighter than :data:`SEG_THRESHOLD` after resizing is labelled with its digit
    (classes 1..10), the rest background (class 0): 11 classes, so the network must both find
    the strokes and recognise the digit.
    """
    from torch.utils.data import TensorDataset

    images, labels = _digits_tensors(resolution)
    train, val = _stratified_split(labels.numpy())
    mean, std = images[train].mean(), images[train].std()
    x = ((images - mean) / std).expand(-1, 3, -1, -1).contiguous()
    if segmentation:
        fg = images[:, 0] > SEG_THRESHOLD
        y = fg.long() * (labels.view(-1, 1, 1) + 1)
        n_classes = 11
    else:
        y, n_classes = labels, 10
    return (TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val]), n_classes)


class ImageFolder:
    """A torch ``Dataset`` of image files (PNG/JPEG through PIL, no torchvision): each image is
    converted to RGB, resized (bilinear) to ``resolution`` squared, scaled to [-1, 1].

    Args:
        files: image paths.
        labels: class index of each file.
        resolution: output side in pixels.
    """

    def __init__(self, files: list[Path], labels: list[int], resolution: int) -> None:
        self.files, self.labels, self.resolution = files, labels, resolution

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple["torch.Tensor", int]:
        import torch
        from PIL import Image

        with Image.open(self.files[i]) as im:
            im = im.convert("RGB").resize((self.resolution, self.resolution),
                                          Image.Resampling.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(arr.transpose(2, 0, 1).copy()), self.labels[i]


def _scan(root: Path, classes: list[str] | None = None) -> tuple[list[str], list[Path], list[int]]:
    """Class names (sorted subfolders, or ``classes``), the image files and their labels."""
    if classes is None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files, labels = [], []
    for c, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise ValueError(f"image folder {root} lacks class folder {name!r}")
        found = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [c] * len(found)
    if len(classes) < 2 or not files:
        raise ValueError(f"image folder {root} must hold one subfolder of "
                         f"{'/'.join(IMAGE_SUFFIXES)} images per class (at least 2 classes); "
                         f"found {len(classes)} classes, {len(files)} images")
    return classes, files, labels


def image_folder(path: str | Path, resolution: int) -> tuple["Dataset", "Dataset", int]:
    """Images in one subfolder per class. ``path/train`` and ``path/val`` (each with the same
    class subfolders) are the two splits when both exist; otherwise 20 % of each class's files
    (drawn with a fixed seed) are held out for validation."""
    root = Path(path)
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, files, labels = _scan(root / "train")
        _, vfiles, vlabels = _scan(root / "val", classes)
        return (ImageFolder(files, labels, resolution), ImageFolder(vfiles, vlabels, resolution),
                len(classes))
    classes, files, labels = _scan(root)
    train, val = _stratified_split(np.asarray(labels))
    return (ImageFolder([files[i] for i in train], [labels[i] for i in train], resolution),
            ImageFolder([files[i] for i in val], [labels[i] for i in val], resolution),
            len(classes))


def dataset_function(name: str) -> Callable[[], Any]:
    """The function ``"package.module:function"`` names (imported now, not called).

    Raises:
        ValueError: it does not import, or is not callable.
    """
    module, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"train dataset function {name!r} does not import: {e}") from None
    if not callable(fn):
        raise ValueError(f"train dataset function {name!r} is not callable")
    return fn


def user_datasets(fn: Callable[[], Any], name: str, num_classes: int | None
                  ) -> tuple["Dataset", "Dataset", int]:
    """The ``(train, val)`` datasets ``fn()`` returns (``name``: how the user wrote it, for
    messages); the class count is ``num_classes``, else ``len(train.classes)``, else the
    largest target in ``train`` + 1 (one pass over it)."""
    import torch

    pair = fn()
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(hasattr(d, "__len__") and hasattr(d, "__getitem__") for d in pair)):
        raise ValueError(f"train dataset function {name!r} must return (train_dataset, "
                         f"val_dataset), got {type(pair).__name__}")
    train, val = pair
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"train dataset function {name!r} returned an empty dataset "
                         f"({len(train)} train, {len(val)} validation items)")
    if num_classes is None:
        classes = getattr(train, "classes", None)
        num_classes = len(classes) if classes is not None else 1 + max(
            int(torch.as_tensor(train[i][1]).max()) for i in range(len(train)))
    return train, val, int(num_classes)
