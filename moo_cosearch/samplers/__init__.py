"""Sampler registry: every search strategy is an ``optuna.samplers.BaseSampler`` made by name.

>>> from moo_cosearch.samplers import create_sampler, list_samplers
>>> sampler = create_sampler("nsga2", seed=0, population_size=20)

A sampler declares which options it takes from the study (:func:`sampler_study_options`):

- ``"reference_point"``: hypervolume reference point, a list of floats in the objectives' own
  units and directions;
- ``"ordered"``: parameter name → bool, whether a categorical's choices are ordered;
- ``"groups"``: parameter name → ``"nas"`` (network) or ``"has"`` (hardware), searched
  parameters only;
- ``"baseline"``: parameter name → the space's reference design value (in the study's view:
  a grid position for ``"index"``), searched parameters only;
- ``"budget"``: the evaluated trials the run plans (``run --budget``, else ``--trials``), for
  strategies that split a budget into phases.

A sampler also names the view of ordered grids it works best with (:func:`sampler_view`):
``"categorical"`` (values as a ``CategoricalDistribution``) or ``"index"`` (grid positions as an
``IntDistribution``, whose order the sampler then sees). ``gp`` prefers ``"index"`` (+3 % and
+5 % median hypervolume on ``nb201-edge`` and ``nahas-mbv2-edge``, 5 seeds); TPE and NSGA-II
do not gain from it (TPE repeats more designs), so they keep values
(``benchmarks/results/ordered_view.md``).

The seeds' strategies call :func:`register_sampler` from their own private module, imported
on the first look at the registry (they subclass Optuna's ``BaseSampler``, and ``import
moo_cosearch`` leaves optuna unimported): ``_rl`` (reinforce, ppo), ``_edd`` (edd), ``_phase`` (fixed-hw, phase,
hw-then-nas), ``_pymoo_algos`` (pymoo-*). Nothing
here imports the rest of ``moo_cosearch``: the study passes these options in.
"""

from __future__ import annotations

import importlib.util
import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import optuna

__all__ = ["MissingDependencyError", "OptionError", "QEHVISampler", "STUDY_OPTIONS", "VIEWS",
           "check_options", "create_sampler", "list_samplers", "register_sampler", "sampler_study_options", "sampler_view"]

#: The options a sampler may take from the study (see the module docstring).
STUDY_OPTIONS = frozenset({"reference_point", "ordered", "groups", "baseline", "budget"})
#: Views of ordered grids a sampler may prefer (the same names as ``moo_cosearch.space.VIEWS``).
VIEWS = ("index", "categorical")


def __getattr__(name: str) -> Any:
    if name == "QEHVISampler":  # lazy: keeps `import moo_cosearch` light
        from ._qehvi_sampler import QEHVISampler

        return QEHVISampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SamplerFactory = Callable[..., "optuna.samplers.BaseSampler"]


class MissingDependencyError(ImportError, ValueError):
    """A sampler's optional dependency is not installed (an ``ImportError``, and a
    ``ValueError`` like every other bad sampler choice, so the CLI reports it in one line)."""


#: pip requirement of each module a sampler may need (as pinned in pyproject.toml).
_REQUIREMENTS = {"torch": "torch>=2.1", "botorch": "botorch>=0.18,<0.19"}


def _require_modules(sampler: str, *modules: str) -> None:
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


@dataclass(frozen=True)
class _Entry:
    factory: SamplerFactory
    description: str
    study_options: frozenset[str]
    view: str


def _optuna_sampler(class_name: str, **defaults: Any) -> SamplerFactory:
    """A factory for ``optuna.samplers.<class_name>`` with our defaults (options override)."""

    def make(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
        import optuna

        cls = getattr(optuna.samplers, class_name)
        check_options(cls, options)
        with warnings.catch_warnings():    # registered here, so chosen by name, not opted into
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(seed=seed, **{**defaults, **options})

    return make


def _qehvi(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
    _require_modules("qnehvi" if options.get("noisy") else "qehvi", "torch", "botorch")
    from ._qehvi_sampler import QEHVISampler

    check_options(QEHVISampler, options)
    return QEHVISampler(seed=seed, **options)


def _qnehvi(seed: int | None = None, **options: Any) -> "optuna.samplers.BaseSampler":
    return _qehvi(seed=seed, noisy=True, **options)


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


#: Modules that register strategies when imported (see the module docstring).
_STRATEGY_MODULES = ("_rl", "_edd", "_phase", "_pymoo_algos")
_loaded = False


def _registry() -> dict[str, _Entry]:
    """The registry, after the strategy modules registered themselves (once)."""
    global _loaded
    if not _loaded:
        _loaded = True
        import importlib

        for module in _STRATEGY_MODULES:
            importlib.import_module(f"{__name__}.{module}")
    return _REGISTRY


def _entry(name: str) -> _Entry:
    _registry()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"sampler must be one of {sorted(_REGISTRY)}, got {name!r}") from None


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
    """The view of ordered grids sampler ``name`` works best with (see the module docstring).

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


_BOTH = ("reference_point", "ordered")
register_sampler("random", _optuna_sampler("RandomSampler"),
                 "uniform random search (optuna RandomSampler)")
register_sampler("tpe", _optuna_sampler("TPESampler", multivariate=True),
                 "multivariate TPE (optuna TPESampler, multivariate=True)")
register_sampler("nsga2", _optuna_sampler("NSGAIISampler"),
                 "NSGA-II, constrained domination (optuna NSGAIISampler)")
register_sampler("nsga3", _optuna_sampler("NSGAIIISampler"),
                 "NSGA-III, reference directions (optuna NSGAIIISampler)")
register_sampler("gp", _optuna_sampler("GPSampler"),
                 "Gaussian-process BO, logEHVI for several objectives (optuna GPSampler)",
                 view="index")
register_sampler("qehvi", _qehvi,
                 "BoTorch qLogEHVI: batched GP, pooled two-stage acquisition (ours)", _BOTH)
register_sampler("qnehvi", _qnehvi,
                 "BoTorch qLogNEHVI (noisy observations), otherwise as qehvi (ours)", _BOTH)
