"""One parameter of a joint space (:class:`Param`), the error type of spaces, and parsing of
the ``[[params]]`` entries of a space file (``{i}`` ranges, renamed parameters)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["MAX_CHOICES", "MAX_PARAMS", "RENAMED_PARAMS", "Param", "SpaceError", "Value", "params_from_specs", "renamed"]

Value = int | float | str
_GROUPS = ("nas", "has")
#: Size limits of a declaration (far above any real space; they keep hostile files fast).
MAX_CHOICES = 10_000
MAX_PARAMS = 10_000


class SpaceError(ValueError):
    """A space definition or a design that does not fit its space."""


#: Renamed parameters: old name → new name. Spaces and designs using an old name still load
#: (with a DeprecationWarning); the space itself only knows the new one.
RENAMED_PARAMS: dict[str, str] = {
    "io_bandwidth_gbps": "io_bandwidth_gbyte_s",   # the unit is GB/s, not Gbit/s
}


def renamed(name: str, where: str) -> str:
    new = RENAMED_PARAMS.get(name)
    if new is None:
        return name
    warnings.warn(f"{where}: parameter {name!r} is now {new!r} (same values, GB/s); "
                  f"rename it", DeprecationWarning, stacklevel=3)
    return new


@dataclass(frozen=True)
class Param:
    """One searchable (or fixed) parameter of a joint space.

    Attributes:
        name: parameter name, e.g. ``"pes_x"``.
        choices: the allowed real values; one value means the parameter is fixed.
        group: ``"nas"`` (network) or ``"has"`` (hardware).
        ordered: True for numeric grids (encoded ordinally), False for names (one-hot).
    """

    name: str
    choices: tuple[Value, ...]
    group: str
    ordered: bool

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise SpaceError(f"parameter name must be a non-empty string, got {self.name!r}")
        if self.group not in _GROUPS:
            raise SpaceError(f"{self.name}: group must be one of {list(_GROUPS)}, got {self.group!r}")
        if len(self.choices) == 0:
            raise SpaceError(f"{self.name}: choices must not be empty")
        if len(self.choices) > MAX_CHOICES:
            raise SpaceError(f"{self.name}: at most {MAX_CHOICES} choices per parameter, got "
                             f"{len(self.choices)}")
        numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool)
                      for c in self.choices)
        if numeric and any(isinstance(c, float) for c in self.choices):
            # one canonical type per grid: [0.5, 1, 2] is stored as [0.5, 1.0, 2.0]
            object.__setattr__(self, "choices", tuple(float(c) for c in self.choices))
        for c in self.choices:
            if isinstance(c, bool) or not isinstance(c, (int, float, str)):
                raise SpaceError(f"{self.name}: choices must be numbers or strings, got {c!r}")
            if isinstance(c, float) and not math.isfinite(c):
                raise SpaceError(f"{self.name}: choices must be finite, got {c!r}")
        if not numeric and not all(isinstance(c, str) for c in self.choices):
            raise SpaceError(f"{self.name}: choices must be all numbers or all strings, got "
                             f"{list(self.choices)[:10]}")
        lookup: dict[Any, int] = {}      # 2 and 2.0 are one key; bools are refused above
        for i, c in enumerate(self.choices):
            if lookup.setdefault(c, i) != i:
                raise SpaceError(f"{self.name}: choices must be distinct, got {c!r} twice")
        object.__setattr__(self, "_lookup", lookup)
        if self.ordered and any(isinstance(c, str) for c in self.choices):
            raise SpaceError(f"{self.name}: an ordered parameter needs numeric choices, "
                             f"got {list(self.choices)}")

    @property
    def fixed(self) -> bool:
        return len(self.choices) == 1

    @property
    def encoding(self) -> np.ndarray:
        """The grid encoding, one row per choice: ``[[index / (k - 1)]]`` for an ordered grid,
        the identity (one-hot rows) otherwise. :meth:`JointSpace.encode` and the surrogate's
        features both build on it."""
        k = len(self.choices)
        if self.ordered:
            return (np.arange(k) / max(k - 1, 1))[:, None]
        return np.eye(k)

    def index(self, value: Any) -> int:
        """Position of ``value`` in the grid; :class:`SpaceError` when it is off the grid."""
        if not isinstance(value, bool):
            try:
                return self._lookup[value]  # type: ignore[attr-defined]
            except (KeyError, TypeError):    # off the grid, or unhashable
                pass
        raise SpaceError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")


def _make_param(spec: Mapping[str, Any], name: str) -> Param:
    known = {"name", "i", "group", "choices", "fixed", "ordered"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise SpaceError(f"{name}: unknown keys {unknown}; allowed keys are {sorted(known)}")
    if ("choices" in spec) == ("fixed" in spec):
        raise SpaceError(f"{name}: give exactly one of 'choices' or 'fixed'")
    choices = [spec["fixed"]] if "fixed" in spec else spec["choices"]
    if not isinstance(choices, list):
        raise SpaceError(f"{name}: choices must be a list, got {choices!r}")
    numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
    ordered = spec.get("ordered", numeric)
    if not isinstance(ordered, bool):
        raise SpaceError(f"{name}: ordered must be true or false, got {ordered!r}")
    return Param(name=name, choices=tuple(choices), group=spec.get("group", ""), ordered=ordered)


def params_from_specs(specs: Sequence[Mapping[str, Any]]) -> list[Param]:
    out: list[Param] = []
    for spec in specs:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise SpaceError(f"every [[params]] entry needs a string 'name', got {spec!r}")
        pattern = spec["name"]
        if "i" in spec:
            rng = spec["i"]
            if (not isinstance(rng, list) or len(rng) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in rng)):
                raise SpaceError(f"{pattern}: 'i' must be an inclusive range [first, last] of "
                                 f"integers, got {rng!r}")
            if "{i}" not in pattern:
                raise SpaceError(f"{pattern}: a name with an 'i' range must contain '{{i}}'")
            if not 0 < rng[1] - rng[0] + 1 <= MAX_PARAMS:
                raise SpaceError(f"{pattern}: 'i' = {rng} must give 1 to {MAX_PARAMS} "
                                 f"parameters (first <= last)")
            names = [pattern.replace("{i}", str(i)) for i in range(rng[0], rng[1] + 1)]
        else:
            names = [renamed(pattern, "space")]
        out.extend(_make_param(spec, n) for n in names)
        if len(out) > MAX_PARAMS:
            raise SpaceError(f"a space has at most {MAX_PARAMS} parameters, got {len(out)}+")
    return out
