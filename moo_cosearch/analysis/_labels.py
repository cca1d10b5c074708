"""How metrics and reference points read on the terminal and on figures: the metric names of
the objective sets (units in their suffix: ``latency_ms``, ``area_mm2``), accuracy labelled as
the percentage it is, reference points in the objectives' own directions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import optuna

    from ..objectives import ObjectiveSet

#: Metrics that are a placeholder (0) for designs whose accuracy was not evaluated (over a
#: hard limit, or a network the accelerator cannot run): ``accuracy_evaluated`` is False.
NOT_EVALUATED = ("accuracy", "reward")

_LABELS = {"accuracy": "accuracy (%)"}
#: Unit suffixes of metric names and how a figure axis writes them.
_UNITS = {"ms": "ms", "s": "s", "mj": "mJ", "uj": "µJ", "j": "J", "mm2": "mm²", "w": "W",
          "mw": "mW", "gbyte_s": "GB/s", "kb": "KB", "mb": "MB"}


def metric_label(metric: str) -> str:
    """``"accuracy (%)"`` for accuracy (a percentage with no unit in its name), else the metric
    name itself, whose suffix is its unit (``latency_ms``, ``energy_mj``, ``area_mm2``)."""
    return _LABELS.get(metric, metric)


_DATASETS = (("imagenet16", "ImageNet16-120"), ("cifar100", "CIFAR-100"), ("cifar10", "CIFAR-10"),
             ("imagenet", "ImageNet"))


def accuracy_label(spec: Mapping[str, Any] | None) -> str:
    """What an objective set's accuracy is, for a figure axis: ``CIFAR-10 accuracy (%)`` for
    the NAS-Bench-201 table, ``ImageNet top-1 (%)`` for a predictor of the Accel-NASBench
    table, ``proxy score (percentile)`` for a zero-cost proxy, else ``accuracy (%)``."""
    spec = spec or {}
    source = str(spec.get("source", ""))
    metric = str(spec.get("metric", "")).lower()
    if source == "proxy":
        return "zero-cost proxy score (percentile)"
    if source == "multitask":
        return "weighted task accuracy (%)"
    data = str(spec.get("data", "")).lower()
    dataset = next((name for key, name in _DATASETS if key in metric), None)
    if dataset is None and ("anb" in source or "anb" in data or "accel" in data):
        dataset = "ImageNet"
    what = "top-1" if "top1" in metric or (dataset == "ImageNet" and "top5" not in metric) \
        else "top-5" if "top5" in metric else "accuracy"
    return f"{dataset} {what} (%)" if dataset else "accuracy (%)"


def axis_label(metric: str, accuracy_label: str | None = None) -> str:
    """A figure axis for ``metric``: words and unit, e.g. ``latency (ms)``, ``area (mm²)``;
    accuracy as ``accuracy_label`` when given (e.g. ``ImageNet top-1 (%)``)."""
    if metric == "accuracy":
        return accuracy_label or _LABELS["accuracy"]
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if metric.endswith("_" + suffix):
            words = metric[:-len(suffix) - 1].replace("_", " ")
            return f"{words} ({_UNITS[suffix]})"
    return metric.replace("_", " ")


def fmt(v: object) -> str:
    """4 significant digits for floats, ``0`` (never ``-0``) for zero, ``str`` otherwise."""
    if isinstance(v, (float, np.floating)):
        return f"{float(v) + 0.0:.4g}"
    return str(v)


def not_evaluated(trial: "optuna.trial.FrozenTrial", metric: str) -> bool:
    """True when ``metric`` of ``trial`` is the placeholder of an accuracy never evaluated."""
    return metric in NOT_EVALUATED and trial.user_attrs.get("accuracy_evaluated") is False


def study_metric_names(study: "optuna.Study",
                       metric_names: Sequence[str] | None = None) -> list[str]:
    """The given names, else the study's (Optuna's ``metric_names``, then the ``metrics`` user
    attr of older studies), else ``objective 0, 1, ...``."""
    names = metric_names or study.metric_names or study.user_attrs.get("metrics")
    return list(names or [f"objective {i}" for i in range(len(study.directions))])


def reference_point_text(study: "optuna.Study", ref: Sequence[float],
                         objectives: "ObjectiveSet | None" = None) -> str:
    """A minimisation-form reference point in the objectives' own directions and units, e.g.
    ``accuracy (%) >= 0, latency_ms <= 0.2, area_mm2 <= 147.8``; coordinates that the objective
    set does not give (taken from the trials) are marked."""
    names = objectives.metric_names if objectives is not None else study_metric_names(study)
    given = set(objectives.reference_point) if objectives is not None else set()
    parts = []
    for name, direction, v in zip(names, study.directions, ref):
        maximize = direction.name == "MAXIMIZE"
        value = -float(v) if maximize else float(v)
        note = "" if objectives is None or name in given else " (from the trials)"
        parts.append(f"{metric_label(name)} {'>=' if maximize else '<='} {fmt(value)}{note}")
    return ", ".join(parts)
