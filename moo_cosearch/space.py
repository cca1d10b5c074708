"""Joint NAS + HAS search spaces: declared once (TOML or Python), exposed to Optuna and pymoo.

A :class:`JointSpace` is a list of :class:`Param` — each a finite grid of real values, tagged
``nas`` or ``has``, ordered (numeric grids such as PEs {1, 2, 4, 6, 8}) or not (op names) — plus
the names of the network family and accelerator model its parameters describe.

TOML format (``spaces/*.toml``)::

    name = "nb201-edge"
    network = "nb201"          # a registered family: networks.list_families()
    accelerator = "edge"       # hardware backend family
    description = "..."

    [[params]]
    name = "edge{i}"           # "{i}" expands over the inclusive range in `i`
    i = [0, 5]
    group = "nas"
    choices = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

    [[params]]
    name = "pes_x"
    group = "has"
    choices = [1, 2, 4, 6, 8]  # numeric → ordered unless `ordered = false`

    [[params]]
    name = "precision_bits"
    group = "has"
    fixed = 8                  # a fixed value: part of every design, never searched
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ._param import RENAMED_PARAMS, Param, SpaceError, Value, params_from_specs, renamed
from ._toml import builtin_names, read_declaration

if TYPE_CHECKING:  # heavy imports stay lazy
    import optuna
    from pymoo.core.problem import Problem

__all__ = ["DEFAULT_VIEW", "JointSpace", "Param", "RENAMED_PARAMS", "SpaceError", "VIEWS",
           "check_view", "list_spaces", "load_space"]

_PACKAGE = "moo_cosearch.builtin_spaces"


#: How ordered grids reach Optuna: grid positions (``IntDistribution``) or values (categorical).
VIEWS: tuple[str, ...] = ("index", "categorical")
DEFAULT_VIEW = "categorical"


def check_view(view: str) -> None:
    """SpaceError unless ``view`` is one of :data:`VIEWS`."""
    if view not in VIEWS:
        raise SpaceError(f"view must be one of {list(VIEWS)}, got {view!r}")


class JointSpace:
    """A joint network + accelerator search space over finite grids.

    Args:
        name: space name (``load_space`` finds built-in spaces by it).
        params: the parameters, in order.
        network: network family the NAS parameters describe (one of
            ``moo_cosearch.networks.list_families()``), or None.
        accelerator: accelerator model family the HAS parameters describe, or None.
        description: free text.
        baseline: the reference design's value of some parameters (the ``[baseline]`` table
            of a space TOML: e.g. the accelerator a paper starts from); the others take their
            grid's middle choice. ``fixed-hw``/``phase``/``hw-then-nas`` start from it.
    """

    def __init__(self, name: str, params: Sequence[Param], *, network: str | None = None,
                 accelerator: str | None = None, description: str = "",
                 baseline: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.params: tuple[Param, ...] = tuple(params)
        self.network = network
        self.accelerator = accelerator
        self.description = description
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpaceError(f"space {name!r}: parameter names must be unique, got {dup} twice")
        if not self.params:
            raise SpaceError(f"space {name!r} has no parameters")
        self._by_name = {p.name: p for p in self.params}
        self._searched = tuple(p for p in self.params if not p.fixed)
        given = dict(baseline or {})
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise SpaceError(f"space {name!r}: [baseline] names unknown parameters {unknown}")
        self._baseline_given = {k: self._by_name[k].choices[self._by_name[k].index(v)]
                                for k, v in given.items()}

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> "JointSpace":
        """Build a space from the parsed TOML structure (see the module docstring)."""
        known = {"name", "network", "accelerator", "description", "params", "baseline"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpaceError(f"{source}: unknown top-level keys {unknown}; allowed: {sorted(known)}")
        if not isinstance(data.get("name"), str):
            raise SpaceError(f"{source}: a space needs a string 'name'")
        specs = data.get("params")
        if not isinstance(specs, list) or not specs:
            raise SpaceError(f"{source}: a space needs a non-empty [[params]] array")
        baseline = data.get("baseline", {})
        if not isinstance(baseline, Mapping):
            raise SpaceError(f"{source}: [baseline] must be a table of parameter = value")
        params = params_from_specs(specs)
        if all(len(p.choices) == 1 for p in params):
            raise SpaceError(f"{source}: a space needs a parameter with two or more choices to "
                             f"search, got only fixed ones ({len(params)} parameters, 1 design)")
        return cls(data["name"], params, network=data.get("network"),
                   accelerator=data.get("accelerator"), description=data.get("description", ""),
                   baseline=baseline)

    def to_dict(self) -> dict[str, Any]:
        """The TOML-equivalent structure (one entry per parameter, fixed ones as ``fixed``)."""
        entries = []
        for p in self.params:
            e: dict[str, Any] = {"name": p.name, "group": p.group}
            if p.fixed:
                e["fixed"] = p.choices[0]
            else:
                e["choices"] = list(p.choices)
            e["ordered"] = p.ordered
            entries.append(e)
        d: dict[str, Any] = {"name": self.name, "description": self.description, "params": entries}
        if self.network is not None:
            d["network"] = self.network
        if self.accelerator is not None:
            d["accelerator"] = self.accelerator
        if self._baseline_given:
            d["baseline"] = dict(self._baseline_given)
        return d

    @property
    def definition_hash(self) -> str:
        """SHA-256 of the canonical definition (names, choices, groups, orderings, families)."""
        d = self.to_dict() | {"description": ""}
        d.pop("baseline", None)      # a reference point, not part of what is searched
        blob = json.dumps(d, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    # -- introspection --------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def __getitem__(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            raise SpaceError(f"unknown parameter {name!r}; space {self.name!r} has "
                             f"{list(self._by_name)}") from None

    def __len__(self) -> int:
        return len(self.params)

    @property
    def baseline(self) -> dict[str, Value]:
        """The reference design: the ``[baseline]`` values, else each grid's middle choice."""
        return {p.name: self._baseline_given.get(p.name, p.choices[(len(p.choices) - 1) // 2])
                for p in self.params}

    def group(self, group: str) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.group == group)

    @property
    def cardinality(self) -> int:
        """Number of distinct designs (product of grid sizes)."""
        return math.prod(len(p.choices) for p in self.params)

    def __repr__(self) -> str:
        return (f"JointSpace({self.name!r}, {len(self._searched)} searched params, "
                f"cardinality={self.cardinality:.3g})")

    # -- Optuna ---------------------------------------------------------------------------
    @property
    def distributions(self) -> dict[str, "optuna.distributions.BaseDistribution"]:
        """Searched parameters as Optuna distributions in the default view."""
        return self.distributions_for(DEFAULT_VIEW)

    def distributions_for(self, view: str) -> dict[str, "optuna.distributions.BaseDistribution"]:
        """Searched parameters as Optuna distributions.

        Args:
            view: how ordered grids reach Optuna (see :data:`VIEWS`): ``"index"`` as
                ``IntDistribution(0, k - 1)`` over grid positions, so TPE, GPSampler and fANOVA
                see the order; ``"categorical"`` as ``CategoricalDistribution`` of the values.
                Unordered grids (names) are categorical in both views.
        """
        from optuna.distributions import CategoricalDistribution, IntDistribution

        check_view(view)
        return {p.name: IntDistribution(0, len(p.choices) - 1)
                if view == "index" and p.ordered else CategoricalDistribution(list(p.choices))
                for p in self._searched}

    def suggest(self, trial: "optuna.trial.BaseTrial", view: str = DEFAULT_VIEW
                ) -> dict[str, Value]:
        """Suggest every searched parameter on ``trial`` (in ``view``, see
        :meth:`distributions_for`); returns the full design with real values (fixed ones too)."""
        check_view(view)
        out: dict[str, Value] = {}
        for p in self.params:
            if p.fixed:
                out[p.name] = p.choices[0]
            elif view == "index" and p.ordered:
                out[p.name] = p.choices[trial.suggest_int(p.name, 0, len(p.choices) - 1)]
            else:
                out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        return out

    def design_of(self, trial: "optuna.trial.FrozenTrial") -> dict[str, Value]:
        """The design (real values, fixed parameters filled in) a trial evaluated, in either
        view: a parameter suggested as ``IntDistribution(0, k - 1)`` over a grid of k values is
        a grid position.

        Raises:
            SpaceError: the trial's parameters do not fit this space.
        """
        from optuna.distributions import IntDistribution

        params = dict(trial.params)
        for name, dist in trial.distributions.items():
            p = self._by_name.get(name)
            if (p is not None and isinstance(dist, IntDistribution) and dist.low == 0
                    and dist.high == len(p.choices) - 1 and dist.step == 1 and not dist.log):
                params[name] = p.choices[int(params[name])]
        return self.validate(params)

    # -- sampling, validation -------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None) -> list[dict[str, Value]]:
        """``n`` designs drawn uniformly and independently per parameter."""
        if n < 0:
            raise SpaceError(f"n must be >= 0, got {n}")
        rng = np.random.default_rng(seed)
        idx = {p.name: rng.integers(len(p.choices), size=n) for p in self.params}
        return [{p.name: p.choices[int(idx[p.name][k])] for p in self.params} for k in range(n)]

    def validate(self, params: Mapping[str, Any]) -> dict[str, Value]:
        """Check a design; returns it with canonical values (fixed parameters filled in).

        Raises:
            SpaceError: unknown parameter, missing parameter, or a value off its grid.
        """
        if not isinstance(params, Mapping):
            raise SpaceError(f"a design must be a mapping of parameter names to values, "
                             f"got {type(params).__name__}")
        if any(k in RENAMED_PARAMS for k in params):
            params = {(renamed(k, "design") if k in RENAMED_PARAMS and k not in self._by_name
                       else k): v for k, v in params.items()}
        unknown = [k for k in params if k not in self._by_name]
        if unknown:
            raise SpaceError(f"unknown parameter {unknown[0]!r}; space {self.name!r} has "
                             f"{list(self._by_name)}")
        out: dict[str, Value] = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.choices[p.index(params[p.name])]
            elif p.fixed:
                out[p.name] = p.choices[0]
            else:
                raise SpaceError(f"missing parameter {p.name!r} (one of {list(p.choices)})")
        return out

    # -- numeric encoding -----------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """Column names of :meth:`encode` (``name`` for ordered, ``name=value`` for one-hot)."""
        cols: list[str] = []
        for p in self._searched:
            cols.extend([p.name] if p.ordered else [f"{p.name}={c}" for c in p.choices])
        return cols

    def indices(self, designs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Grid indices of the searched parameters, shape (n, n_searched), validated."""
        valid = [self.validate(d) for d in designs]
        rows = [[p.index(v[p.name]) for p in self._searched] for v in valid]
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(self._searched))

    def encode(self, designs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Float features: ordered grids as index/(k-1) in [0, 1], unordered as one-hot.

        Fixed parameters carry no information and get no column.
        """
        idx = self.indices(designs)
        blocks = [p.encoding[idx[:, j]] for j, p in enumerate(self._searched)]
        if not blocks:
            return np.zeros((idx.shape[0], 0))
        return np.concatenate(blocks, axis=1).astype(np.float64)

    def decode(self, features: np.ndarray) -> list[dict[str, Value]]:
        """Inverse of :meth:`encode`: nearest grid point for ordered columns, argmax for one-hot.

        Relaxed (continuous) features decode to their nearest design by construction; arrays of
        the wrong width or with non-finite entries are rejected.
        """
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        width = len(self.feature_names)
        if x.shape[1] != width:
            raise SpaceError(f"features must have {width} columns for space {self.name!r}, "
                             f"got {x.shape[1]}")
        if not np.all(np.isfinite(x)):
            raise SpaceError("features must be finite")
        idx = np.zeros((x.shape[0], len(self._searched)), dtype=np.int64)
        col = 0
        for j, p in enumerate(self._searched):
            k = len(p.choices)
            if p.ordered:
                idx[:, j] = np.clip(np.rint(x[:, col] * (k - 1)), 0, k - 1)
                col += 1
            else:
                idx[:, j] = np.argmax(x[:, col:col + k], axis=1)
                col += k
        return self.from_indices(idx)

    def from_indices(self, indices: np.ndarray) -> list[dict[str, Value]]:
        """Inverse of :meth:`indices`: designs (fixed parameters filled in) of an
        (n, n_searched) matrix of grid indices, which must lie on the grids."""
        fixed = {p.name: p.choices[0] for p in self.params if p.fixed}
        return [{**fixed, **{p.name: p.choices[int(r[j])] for j, p in enumerate(self._searched)}}
                for r in np.atleast_2d(indices)]

    # -- pymoo ----------------------------------------------------------------------------
    def to_pymoo(self, evaluate: Callable[[dict[str, Value]], tuple[Sequence[float], Sequence[float]]]
                 | None = None, *, n_obj: int = 2, n_ieq_constr: int = 0) -> "Problem":
        """A pymoo mixed-variable problem whose variables are this space's searched parameters.

        Each variable is a ``pymoo.core.variable.Choice`` over the real values. ``evaluate``
        maps a full design dict to ``(objectives, constraints)`` (all minimised; constraints
        feasible when <= 0); without it the problem can be inspected but not evaluated.
        """
        from ._pymoo import JointSpaceProblem

        choices = {p.name: p.choices for p in self.params if not p.fixed}
        return JointSpaceProblem(self.name, choices, self.validate, evaluate, n_obj=n_obj,
                                 n_ieq_constr=n_ieq_constr)


def list_spaces() -> list[str]:
    """Names of the built-in spaces."""
    return builtin_names(_PACKAGE)


def load_space(name_or_path: str | Path) -> JointSpace:
    """Load a built-in space by name, or a TOML file by path.

    Raises:
        SpaceError: unknown name, unreadable or malformed TOML, or an invalid definition.
    """
    data, source = read_declaration(name_or_path, _PACKAGE, "space", SpaceError)
    return JointSpace.from_dict(data, source=source)
