"""The sampler registry: names → factories of ``optuna.samplers.BaseSampler``, with the options
each takes from the study and the view of ordered grids it prefers (see the package docstring).

Families register themselves from their own package's ``__init__`` (:data:`FAMILIES`), imported
on the first look at the registry; this module imports neither optuna nor any family.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    import optuna

__all__ = ["FAMILIES", "MissingDependencyError", "OptionError", "STUDY_OPTIONS", "VIEWS",
           "check_options", "create_sampler", "list_samplers", "register_sampler",
           "require_modules", "sampler_study_options", "sampler_view", "suggest"]

#: The options a sampler may take from the study (see the package docstring).
STUDY_OPTIONS = frozenset({"reference_point", "ordered", "groups", "baseline", "budget"})
#: Views of ordered grids a sampler may prefer (the same names as ``moo_cosearch.space.VIEWS``).
VIEWS = ("index", "categorical")



SamplerFactory = Callable[..., "optuna.samplers.BaseSampler"]


class MissingDependencyError(ImportError, ValueError):
    """A sampler's optional dependency is not installed (an ``ImportError``, and a
    ``ValueError`` like every other bad sampler choice, so the CLI reports it in one line)."""


#: pip requirement of each module a sampler may need (as pinned in pyproject.toml).
_REQUIREMENTS = {"torch": "torch>=2.1", "botorch": "botorch>=0.18,<0.19",
                 "ax": "moo-cosearch[peers]", "smac": "moo-cosearch[peers]"}


def require_modules(sampler: str, *modules: str) -> None:
    """Raise :class:`MissingDependencyError` (one line: what is missing, how to install it)
    when one of ``modules`` cannot be imported; checked when the sampler is made, not in its
    first trial."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        reqs = " ".join(f"'{_REQUIREMENTS.get(m, m)}'" for m in missing)
        raise MissingDependencyError(
            f"sampler {sampler!r} needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: pip install {reqs} "
            f"(with -c constraints.txt in a checkout, for the CPU torch wheel)")


_SIMPLE = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,),
           "None": (type(None),)}


class OptionError(ValueError):
    """A sampler option the constructor does not take, or of the wrong type."""


def _at_least(low: float) -> tuple[Any, str]:
    return (lambda v: v >= low), f">= {low}"


#: Bounds of numeric options by name, whichever sampler takes them (the type is checked
#: first): values outside fail only when the sampler first runs its model, mid-study.
OPTION_BOUNDS: dict[str, tuple[Any, str]] = {
    **dict.fromkeys(("n_ei_candidates", "n_candidates", "n_rescore", "mc_samples",
                     "refit_every", "torch_threads", "startup_tries", "dividing_parameter",
                     "inc_popsize"), _at_least(1)),
    **dict.fromkeys(("population_size", "popsize"), _at_least(2)),
    **dict.fromkeys(("n_startup_trials", "refit_all_below", "n_refine"), _at_least(0)),
    **dict.fromkeys(("mutation_prob", "crossover_prob", "swapping_prob"),
                    ((lambda v: 0 <= v <= 1), "in [0, 1]")),
    **dict.fromkeys(("prior_weight", "sigma0"), ((lambda v: v > 0), "> 0")),
}


def check_options(cls: type, options: dict[str, Any]) -> None:
    """Refuse options ``cls`` does not take, and values of the wrong type for parameters
    annotated with plain ``int`` / ``float`` / ``bool`` / ``str`` (or ``... | None``), before
    the sampler is made: a bad option is one line at the start, not a crash mid-study.

    Raises:
        OptionError: the rule, then the value.
    """
    params = inspect.signature(cls).parameters
    for key, value in options.items():
        if key not in params or params[key].kind in (inspect.Parameter.VAR_POSITIONAL,
                                                     inspect.Parameter.VAR_KEYWORD):
            known = sorted(k for k, p in params.items() if k != "seed" and p.kind
                           not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            raise OptionError(f"{cls.__name__} takes options {known}, got {key!r}")
        ann = params[key].annotation
        text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        kinds = [t.strip() for t in text.split("|")]
        if not text or any(t not in _SIMPLE for t in kinds):
            continue       # not a plain type: the constructor checks it
        ok = any(isinstance(value, _SIMPLE[t]) for t in kinds)
        if isinstance(value, bool) and "bool" not in kinds:
            ok = False     # True is an int to Python, never an int option
        if not ok:
            raise OptionError(f"option {key} must be {text}, got {value!r}")
        holds, rule = OPTION_BOUNDS.get(key, (None, ""))
        if holds is not None and value is not None and not (math.isfinite(value)
                                                            and holds(value)):
            raise OptionError(f"option {key} must be {rule}, got {value!r}")


@dataclass(frozen=True)
class _Entry:
    factory: SamplerFactory
    description: str
    study_options: frozenset[str]
    view: str


_REGISTRY: dict[str, _Entry] = {}


def register_sampler(name: str, factory: SamplerFactory, description: str = "",
                     study_options: tuple[str, ...] = (), view: str = "categorical") -> None:
    """Register ``factory(seed=..., **options) -> BaseSampler`` under ``name``.

    Args:
        name: the sampler's name for :func:`create_sampler`.
        factory: called with ``seed`` and the options.
        description: one line for :func:`list_samplers`.
        study_options: the constructor options the study should fill in (from
            :data:`STUDY_OPTIONS`).
        view: the view of ordered grids the sampler works best with (one of :data:`VIEWS`).

    Raises:
        ValueError: a study option that is not one of :data:`STUDY_OPTIONS`, or an unknown
            view.
    """
    unknown = sorted(set(study_options) - STUDY_OPTIONS)
    if unknown:
        raise ValueError(f"study options must be among {sorted(STUDY_OPTIONS)}, "
                         f"got {unknown}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}")
    _REGISTRY[name] = _Entry(factory, description, frozenset(study_options), view)


#: Modules that register their samplers when imported, loaded on the first look at the
#: registry: Optuna's own, then one sub-package per family of ours.
FAMILIES = ("_builtin", "_qehvi", "_rl", "_edd", "_phase", "_pymoo", "_peers")
_loaded = False
_load_lock = threading.RLock()     # re-entrant: a family may look while it registers


def _registry() -> dict[str, _Entry]:
    """The registry, after the families registered themselves (once; a thread that looks
    while another is still importing them waits, instead of seeing a partial registry).
    The same loader as ``moo_cosearch._lazy``, kept here: samplers import nothing of the
    package."""
    global _loaded
    if not _loaded:
        with _load_lock:
            if not _loaded:
                import importlib

                for module in FAMILIES:
                    importlib.import_module(f"{__package__}.{module}")
                _loaded = True
    return _REGISTRY


def _entry(name: str) -> _Entry:
    _registry()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"sampler must be one of {sorted(_REGISTRY)}, got {name!r}"
                         + suggest(name, _REGISTRY)) from None


def suggest(name: object, known: Iterable[str]) -> str:
    """``"; did you mean 'tpe'?"`` for the closest known name (``difflib``), else ``""``."""
    import difflib

    def plain(text: str) -> str:          # NSGA-II, nsga_2 and nsga2 read alike
        text = text.lower().replace("-", "").replace("_", "")
        return text.replace("iii", "3").replace("ii", "2")

    if not isinstance(name, str):
        return ""
    by_plain = {plain(k): k for k in known}
    close = difflib.get_close_matches(plain(name), list(by_plain), n=1, cutoff=0.6)
    return f"; did you mean {by_plain[close[0]]!r}?" if close else ""


def list_samplers() -> dict[str, str]:
    """Known sampler names with a one-line description each."""
    return {name: entry.description for name, entry in sorted(_registry().items())}


def sampler_study_options(name: str) -> frozenset[str]:
    """The options (of :data:`STUDY_OPTIONS`) that sampler ``name`` takes from the study.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    return _entry(name).study_options


def sampler_view(name: str) -> str:
    """The view of ordered grids sampler ``name`` works best with (see the package docstring).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    return _entry(name).view


def create_sampler(name: str, *, seed: int | None = None,
                   **options: Any) -> "optuna.samplers.BaseSampler":
    """Make a sampler by name.

    Args:
        name: a name from :func:`list_samplers`.
        seed: random seed (the same seed gives the same study).
        **options: passed to the sampler's constructor (e.g. ``population_size`` for nsga2).

    Raises:
        ValueError: unknown name (the message lists the known ones) or a bad option.
        MissingDependencyError: (also a ``ValueError``) the sampler needs a package that is
            not installed, e.g. torch / botorch for ``qehvi``.
    """
    factory = _entry(name).factory
    try:
        return factory(seed=seed, **options)
    except (TypeError, OptionError) as e:
        raise ValueError(f"bad option for sampler {name!r}: {e}") from None

