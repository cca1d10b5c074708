"""Objective sets (``objectives/*.toml``): what to optimise, with which accuracy source and cost
model, under which hard limits.

TOML format::

    name = "nb201-cifar10-latency-area"
    space = "nb201-edge"                                  # default space for `moo-cosearch run`
    accuracy = { source = "nb201", metric = "cifar10_test_200ep" }
    cost = "edge"                                         # hardware backend name

    [[objectives]]                                        # any of accuracy, latency_ms,
    metric = "accuracy"                                   # energy_mj, area_mm2
    direction = "maximize"

    [[objectives]]
    metric = "latency_ms"
    direction = "minimize"

    [[constraints]]                                       # hard: violated → accuracy skipped
    metric = "area_mm2"
    max = "baseline"                                      # a number, or the backend's baseline

    [reward]                                              # instead of [[objectives]]: the NAHAS
    latency_ms = 0.5                                      # single-objective reward
    area_mm2 = "baseline"                                 # Acc·(Lat/T)^w0·(Area/Ta)^w1
    p = -0.071                                            # w = p within target, q outside;
    q = -0.071                                            # hard: p = 0, q = -1

    [reference_point]                                     # optional, for the hypervolume
    accuracy = 0
    latency_ms = 2.0"""

from __future__ import annotations

import math

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._toml import builtin_names, read_declaration
from ..accuracy import accuracy_range, check_spec
from ..hardware import COST_FIELDS, backend_metrics

__all__ = ["COST_METRICS", "DEFAULT_FOR_SPACE", "METRICS", "Constraint", "ObjectiveSet",
           "ObjectivesError", "Reward", "default_objectives", "list_objectives", "load_objectives"]

COST_METRICS = COST_FIELDS
METRICS = ("accuracy",) + COST_METRICS
_DIRECTIONS = ("maximize", "minimize")
_PACKAGE = "moo_cosearch.builtin_objectives"


class ObjectivesError(ValueError):
    """A malformed objective set."""


@dataclass(frozen=True)
class Constraint:
    """A hard limit ``metric <= max`` or ``metric >= min`` (limits may be ``"baseline"``)."""

    metric: str
    max: float | str | None = None
    min: float | str | None = None


@dataclass(frozen=True)
class Reward:
    """NAHAS reward ``Acc·(Lat/T)^w0·(Area/Ta)^w1``; w = p within target, q outside."""

    latency_ms: float
    area_mm2: float | str
    p: float = -0.071
    q: float = -0.071


@dataclass(frozen=True)
class ObjectiveSet:
    """A declared objective set: what to optimise, with which accuracy source and cost model."""

    name: str
    objectives: tuple[tuple[str, str], ...]
    accuracy: Mapping[str, Any] = field(default_factory=lambda: {"source": "nb201"})
    cost: str = "edge"
    constraints: tuple[Constraint, ...] = ()
    reward: Reward | None = None
    space: str | None = None
    reference_point: Mapping[str, float] = field(default_factory=dict)
    description: str = ""

    @property
    def metric_names(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def needs_accuracy(self) -> bool:
        """Whether an accuracy source is used (an objective, a limit or the reward)."""
        return ("accuracy" in self.metric_names or self.reward is not None
                or any(c.metric == "accuracy" for c in self.constraints))

    def with_accuracy(self, choice: str) -> "ObjectiveSet":
        """This set with another accuracy source, for ``run --accuracy``: ``table`` (the
        NAS-Bench-201 table; its metric kept), ``proxy`` / ``proxy:NAME`` (zero-cost proxy),
        ``train`` (short training), or any registered source name. The name gains
        ``--acc-<choice>`` so that studies of the two never mix.

        Raises:
            ObjectivesError: the set uses no accuracy, or an unknown/misconfigured source.
        """
        if not self.needs_accuracy:
            raise ObjectivesError(f"objective set {self.name!r} uses no accuracy; "
                                  f"--accuracy does not apply")
        source, _, option = choice.partition(":")
        if source == "table":
            spec: dict[str, Any] = {"source": "nb201"}
            if self.accuracy.get("source") == "nb201" and "metric" in self.accuracy:
                spec["metric"] = self.accuracy["metric"]
        elif source == "proxy":
            spec = {"source": "proxy", **({"proxy": option} if option else {})}
        elif option:
            raise ObjectivesError(f"--accuracy NAME:OPTION is for proxy:NAME, got {choice!r}")
        else:
            spec = {"source": source}
        try:
            check_spec(spec)
        except ValueError as e:
            raise ObjectivesError(f"--accuracy {choice}: {e}") from None
        safe = choice.replace(":", "-")
        return dataclasses.replace(self, accuracy=spec, name=f"{self.name}--acc-{safe}")

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> "ObjectiveSet":
        known = {"name", "description", "space", "accuracy", "cost", "objectives", "constraints",
                 "reward", "reference_point"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ObjectivesError(f"{source}: unknown keys {unknown}; allowed: {sorted(known)}")
        if not isinstance(data.get("name"), str):
            raise ObjectivesError(f"{source}: an objective set needs a string 'name'")
        if ("objectives" in data) == ("reward" in data):
            raise ObjectivesError(f"{source}: give exactly one of [[objectives]] or [reward]")
        cost = data.get("cost", "edge")
        if not isinstance(cost, str):
            raise ObjectivesError(f"{source}: cost must be a backend name, got {cost!r}")
        try:
            known_metrics = ("accuracy",) + backend_metrics(cost)
        except ValueError as e:
            raise ObjectivesError(f"{source}: {e}") from None
        reward = None
        if "reward" in data:
            if not isinstance(data["reward"], Mapping):
                raise ObjectivesError(f"{source}: [reward] must be a table")
            r = dict(data["reward"])
            try:
                reward = Reward(**r)
            except TypeError:
                raise ObjectivesError(f"{source}: [reward] takes latency_ms, area_mm2, p, q; "
                                      f"got {sorted(r)}") from None
            objectives: list[tuple[str, str]] = [("reward", "maximize")]
        else:
            objectives = []
            entries = data["objectives"]
            if not isinstance(entries, list) or not entries:
                raise ObjectivesError(f"{source}: [[objectives]] must be a non-empty array of "
                                      f"tables")
            for o in entries:
                if not isinstance(o, Mapping) or set(o) - {"metric", "direction"}:
                    raise ObjectivesError(f"{source}: an objective is {{metric, direction}}, got "
                                          f"{o!r} (a key after [[objectives]] belongs to it: "
                                          f"put top-level keys before the first table)")
                metric, direction = o.get("metric"), o.get("direction")
                if metric not in known_metrics:
                    raise ObjectivesError(f"{source}: objective metric must be one of "
                                          f"{list(known_metrics)}, got {metric!r}")
                if direction not in _DIRECTIONS:
                    raise ObjectivesError(f"{source}: direction of {metric} must be one of "
                                          f"{list(_DIRECTIONS)}, got {direction!r}")
                objectives.append((metric, direction))
        constraints = []
        for c in data.get("constraints", []):
            if not isinstance(c, Mapping):
                raise ObjectivesError(f"{source}: a constraint is a table, got {c!r}")
            if c.get("metric") not in known_metrics:
                raise ObjectivesError(f"{source}: constraint metric must be one of "
                                      f"{list(known_metrics)}, got {c.get('metric')!r}")
            if set(c) - {"metric", "max", "min"} or ("max" in c) == ("min" in c):
                raise ObjectivesError(f"{source}: a constraint is {{metric, max}} or "
                                      f"{{metric, min}}, got {dict(c)}")
            constraints.append(Constraint(**c))
        accuracy = data.get("accuracy", {"source": "nb201"})
        try:
            check_spec(accuracy)
        except ValueError as e:
            raise ObjectivesError(f"{source}: {e}") from None
        ref = data.get("reference_point", {})
        if not isinstance(ref, Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in ref.values()):
            raise ObjectivesError(f"{source}: reference_point must be a table of objective = "
                                  f"finite number, got {ref!r}")
        ref = dict(ref)
        bad = sorted(set(ref) - set(objectives_names := [m for m, _ in objectives]))
        if bad:
            raise ObjectivesError(f"{source}: reference_point keys must be objectives "
                                  f"{objectives_names}, got {bad}")
        _check_meaningful(source, objectives, constraints, ref, accuracy_range(accuracy))
        return cls(name=data["name"], objectives=tuple(objectives), accuracy=accuracy, cost=cost,
                   constraints=tuple(constraints), reward=reward, space=data.get("space"),
                   reference_point=ref, description=data.get("description", ""))


def _check_meaningful(source: str, objectives: list[tuple[str, str]],
                      constraints: list[Constraint], ref: Mapping[str, float],
                      acc_range: tuple[float, float]) -> None:
    """Refuse what parses but makes no sense: a metric twice as an objective, a limit no
    value of the metric can meet, a reference point outside the metric's range. Accuracy
    lies in its source's declared ``range``; every cost metric (a latency, energy, area,
    resource count or throughput) is >= 0."""
    seen: set[str] = set()
    for i, (metric, _) in enumerate(objectives):
        if metric in seen:
            raise ObjectivesError(f"{source}: objectives[{i}]: each metric may be one "
                                  f"objective, got {metric} twice")
        seen.add(metric)

    def span(metric: str) -> tuple[float, float, str]:
        if metric == "accuracy":
            return acc_range[0], acc_range[1], f"in [{acc_range[0]:g}, {acc_range[1]:g}] (the " \
                                               f"accuracy source's range)"
        return 0.0, math.inf, ">= 0"

    for i, c in enumerate(constraints):
        low, high, where = span(c.metric)
        for key, limit in (("max", c.max), ("min", c.min)):
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                continue                  # "baseline", or refused when the objective is built
            if (key == "max" and limit < low) or (key == "min" and limit > high):
                raise ObjectivesError(f"{source}: constraints[{i}] {key} of {c.metric} must "
                                      f"be a limit some design can meet ({c.metric} is "
                                      f"{where}), got {limit!r}")
    for metric, value in ref.items():
        low, high, where = span(metric)
        if not low <= value <= high:
            raise ObjectivesError(f"{source}: reference_point.{metric} must lie in the "
                                  f"metric's range ({metric} is {where}), got {value!r}")


def list_objectives() -> list[str]:
    """Names of the built-in objective sets."""
    return builtin_names(_PACKAGE)


#: The objective set ``run --space S`` uses when none is given (one with accuracy per space).
DEFAULT_FOR_SPACE = {
    "nb201-edge": "nb201-cifar10-latency-area",
    "nb201-device": "nb201-cifar100-device-latency",
    "nb201-eyeriss": "nb201-cifar10-eyeriss-latency",
    "anb-mnas-zcu102": "anb-mnas-zcu102-top1-latency",
    "anb-mnas-vck190": "anb-mnas-vck190-top1-latency",
    "nahas-mbv2-edge": "nahas-mbv2-proxy-latency-area",
    "nahas-effnetb0-edge": "nahas-effnetb0-proxy-latency-area",
    "anb-mnas-edge": "anb-mnas-top1-latency-area",
    "anb-mnas-zcu102-measured": "anb-mnas-zcu102-measured-top1-latency",
    "edd-mbconv-fpga": "edd-fpga-proxy-latency-dsp",
    "fnas-cifar10-multifpga": "fnas-multifpga-proxy-throughput",
    "nasaic-w1": "nasaic-w1-proxy-multitask",
    "nasaic-w2": "nasaic-w2-proxy-multitask",
    "nasaic-w3": "nasaic-w3-proxy-multitask",
}


def default_objectives(space: str) -> str | None:
    """The built-in objective set for built-in space ``space`` (:data:`DEFAULT_FOR_SPACE`),
    or None for other spaces."""
    return DEFAULT_FOR_SPACE.get(space)


def load_objectives(name_or_path: str | Path | ObjectiveSet) -> ObjectiveSet:
    """Load a built-in objective set by name, or a TOML file by path."""
    if isinstance(name_or_path, ObjectiveSet):
        return name_or_path
    data, source = read_declaration(name_or_path, _PACKAGE, "objective set", ObjectivesError)
    return ObjectiveSet.from_dict(data, source=source)
