"""The one minibatch the data-dependent proxies see, built offline and deterministically.

``digits``: scikit-learn's bundled handwritten digits (1,797 8x8 grayscale images, 10 classes,
shipped inside the scikit-learn wheel: no download), upsampled bilinearly to the network's
resolution, copied to every input channel, standardised with the whole set's mean and standard
deviation; labels are the digits (taken modulo the network's class count). It stands in for
CIFAR, which cannot be downloaded here: real, structured images with real labels, but not the
images the accuracy table was trained on. ``noise``: standard Gaussian images with uniform random
labels (no structure at all), for comparison.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["DATA", "minibatch"]

#: Minibatch sources.
DATA: tuple[str, ...] = ("digits", "noise")


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) standardised, labels (1797,)), read once per process."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float64)
    images = (images - images.mean()) / images.std()
    return images, bunch.target.astype(np.int64)


def minibatch(data: str, batch_size: int, channels: int, resolution: int, num_classes: int,
              seed: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    """``(inputs (batch_size, channels, resolution, resolution) float32, labels (batch_size,)
    int64)``: the same tensors for the same arguments.

    Raises:
        ValueError: an unknown ``data`` or a non-positive size.
    """
    import torch
    import torch.nn.functional as F

    if data not in DATA:
        raise ValueError(f"proxy data must be one of {list(DATA)}, got {data!r}")
    for name, value in (("batch_size", batch_size), ("channels", channels),
                        ("resolution", resolution), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"proxy {name} must be a positive integer, got {value!r}")
    rng = np.random.default_rng(seed)
    if data == "noise":
        x = torch.from_numpy(rng.standard_normal((batch_size, channels, resolution, resolution)))
        y = torch.from_numpy(rng.integers(0, num_classes, batch_size))
        return x.float(), y
    images, labels = _digits()
    pick = rng.choice(len(labels), size=batch_size, replace=batch_size > len(labels))
    x = torch.from_numpy(images[pick]).unsqueeze(1)
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return x.expand(-1, channels, -1, -1).float().contiguous(), \
        torch.from_numpy(labels[pick] % num_classes)
