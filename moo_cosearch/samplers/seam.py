"""The one place where ``moo_cosearch`` touches Optuna's internals.

Optuna gives a sampler a ``Study`` and a ``FrozenTrial``; a sampler that keeps its state in the
storage (so that resumed studies and several workers sharing one storage agree) has to write
system attributes and find the trial's row, which Optuna's public API does not offer since
``Study.system_attrs``, ``Study.set_system_attr`` and ``Trial.set_system_attr`` were removed
(Optuna 4/5). Optuna's own samplers reach the storage directly for this
(``optuna/samplers/_ga/_base.py``, ``nsgaii/_sampler.py``, ``_tpe/sampler.py``); so do we, here
only, each call with the reason no public API serves. ``tests/samplers/test_optuna_seam.py`` fails on a
use of Optuna's private names anywhere else in the package.

The storage methods called (``set_trial_system_attr``, ``get_study_system_attrs``, ...) are
``BaseStorage``'s public API; what is private is reaching the study's storage and ids.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.storages import BaseStorage
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState

__all__ = ["RDBTrialCreated", "cached_trials", "contains", "fail_trial", "heartbeat_interface",
           "heartbeat_interval", "is_in_memory", "record_heartbeats", "set_study_system_attr",
           "set_trial_system_attr", "storage_of", "study_id", "study_system_attrs",
           "study_view", "trial_id", "with_params"]


def trial_id(trial: "FrozenTrial") -> int:
    """The trial's id in its storage: unique across the storage's studies, where
    ``trial.number`` is unique within one study only."""
    # FrozenTrial has no public id (only the private ``_trial_id``); storages key trials by it.
    return trial._trial_id


def study_id(study: "Study") -> int:
    """The study's id in its storage (tells studies sharing a storage apart, where a name may
    be reused after a deletion)."""
    # Study has no public id (only the private ``_study_id``).
    return study._study_id


def cached_trials(study: "Study", states: Container["TrialState"] | None = None
                  ) -> list["FrozenTrial"]:
    """The study's trials as this thread read them at the start of the current trial (not
    copied: do not modify), the list Optuna's own samplers read."""
    # Study.get_trials always reads the storage anew; Optuna's samplers use the per-trial cache
    # of the private Study._get_trials(use_cache=True), which the phase samplers' decisions
    # are defined on (a later read may see other workers' newer trials).
    return study._get_trials(deepcopy=False, states=states, use_cache=True)


def storage_of(study: "Study") -> tuple["BaseStorage", int]:
    """The study's storage and the study's id in it."""
    # Study exposes neither (``_storage``, ``_study_id``); a sampler's own study-level state
    # (RL weights, pymoo generations) goes through BaseStorage's public methods on them.
    return study._storage, study._study_id


def set_trial_system_attr(study: "Study", trial: "FrozenTrial", key: str, value: Any) -> None:
    """Store ``value`` under ``key`` in the trial's system attrs (read back through the public
    ``FrozenTrial.system_attrs``)."""
    # A sampler receives a FrozenTrial, and Trial.set_system_attr was removed in Optuna 4;
    # Optuna's own samplers (NSGA-II, TPE, GP) write through the storage like this.
    study._storage.set_trial_system_attr(trial._trial_id, key, value)


def study_system_attrs(study: "Study") -> dict[str, Any]:
    """The study's system attrs, read from the storage now (other workers' writes included)."""
    # Study.system_attrs was removed in Optuna 4 (deprecated since 3.1).
    return study._storage.get_study_system_attrs(study._study_id)


def set_study_system_attr(study: "Study", key: str, value: Any) -> None:
    """Store ``value`` under ``key`` in the study's system attrs."""
    # Study.set_system_attr was removed in Optuna 4; Optuna's GA samplers cache their parents
    # the same way (``BaseGASampler.get_parent_population``).
    study._storage.set_study_system_attr(study._study_id, key, value)


def is_in_memory(study: "Study") -> bool:
    """Whether the study lives in this process only (an ``InMemoryStorage``): no other process
    can share it, so claims need no read-back."""
    from optuna.storages import InMemoryStorage

    # Study does not say which storage holds it (``_storage`` is private).
    return isinstance(study._storage, InMemoryStorage)


def fail_trial(study: "Study", trial: "FrozenTrial") -> bool:
    """Mark a RUNNING trial of ``study`` FAIL from outside its worker (a killed worker's
    trial); False when it is no longer RUNNING (another process finished it first)."""
    from optuna.trial import TrialState

    # Study.tell works only on trials this process asked for or on numbers, and refuses a
    # trial whose state changed meanwhile with an error; the storage's compare-and-set is the
    # race-free way (what Optuna's own heartbeat fail_stale_trials does).
    return study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def heartbeat_interval(study: "Study") -> int | None:
    """Seconds between the heartbeats of the study's storage (None: it keeps none)."""
    # Study does not expose its storage (``_storage``); the interval is RDBStorage's public
    # ``get_heartbeat_interval`` (storages without heartbeats lack the method).
    get = getattr(study._storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


def heartbeat_interface() -> type:
    """Optuna's heartbeat interface for a storage (``record_heartbeat``,
    ``_get_stale_trial_ids``, ``get_heartbeat_interval``,
    ``get_heartbeat_stale_trial_callback``)."""
    import optuna.storages

    # fail_stale_trials and the heartbeat thread of study.optimize act only on a storage that
    # is an instance of this class, which Optuna does not export under a public name (its
    # module, loaded by optuna.storages, is private).
    return optuna.storages._heartbeat.BaseHeartbeat


class RDBTrialCreated:
    """Mixin before ``RDBStorage``: ``self.trial_created(trial_id, template_trial)`` after each
    trial the storage creates."""

    # Optuna's cache in front of every RDBStorage a Study uses (_CachedStorage) creates trials
    # through the private RDBStorage._create_new_trial, so a public create_new_trial override
    # never sees them.
    def _create_new_trial(self, study_id: int, template_trial: "FrozenTrial | None" = None
                          ) -> "FrozenTrial":
        trial = super()._create_new_trial(study_id, template_trial)  # type: ignore[misc]
        self.trial_created(trial._trial_id, template_trial)
        return trial

    def trial_created(self, trial_id: int, template_trial: "FrozenTrial | None") -> None:
        raise NotImplementedError


def record_heartbeats(study: "Study", trials: "list[Any]") -> None:
    """Record a heartbeat now for each of ``trials`` (``Trial`` or ``FrozenTrial``)."""
    # Optuna beats only for the trial study.optimize runs (its private _run_trial); trials
    # from study.ask (a batch evaluated together) need the same through the storage's public
    # ``record_heartbeat``, which takes the private trial id.
    for trial in trials:
        study._storage.record_heartbeat(trial._trial_id)


def with_params(trial: "FrozenTrial", names: Container[str]) -> "FrozenTrial":
    """A shallow copy of ``trial`` with only the parameters (and distributions) in ``names``."""
    out = copy.copy(trial)
    # FrozenTrial's params and distributions are read-only properties, and building a new
    # FrozenTrial would still need the private trial id: the copy's private fields are set.
    out._params = {n: v for n, v in trial.params.items() if n in names}
    out._distributions = {n: d for n, d in trial.distributions.items() if n in names}
    return out


def contains(dist: "BaseDistribution", value: Any) -> bool:
    """Whether ``value`` (external representation) is one of ``dist``'s values: in its choices,
    or within its bounds and on its step."""
    # BaseDistribution._contains is private and has no public equivalent (Optuna's own
    # samplers call it to check enqueued and fixed values).
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def study_view(study: "Study", select: Callable[[list["FrozenTrial"]], list["FrozenTrial"]],
               prefix: str) -> "Study":
    """A ``Study`` (for samplers that check) showing ``study`` as ``select`` filters and
    rewrites its trial lists, with its own namespace ``prefix`` for study system attrs, for a
    sampler searching part of a study (the phase baselines' inner samplers). Everything else
    (directions, storage writes of trials) is the real study's."""
    return _view_classes()[1](study, select, prefix)


def _view_classes() -> tuple[type, type]:
    """The view's storage and study classes, made once optuna is imported (this module is
    imported by ``import moo_cosearch``, optuna is not)."""
    global _VIEW_CLASSES
    if _VIEW_CLASSES is None:
        _VIEW_CLASSES = _make_view_classes()
    return _VIEW_CLASSES


_VIEW_CLASSES: tuple[type, type] | None = None


def _make_view_classes() -> tuple[type, type]:
    from optuna.storages import BaseStorage
    from optuna.study import Study

    class ViewStorage:
        """The storage as the view shows it: trial lists through ``select``, study system
        attrs under ``prefix``; everything else is the real storage."""

        def __init__(self, storage: BaseStorage, select: Callable, prefix: str) -> None:
            self._storage = storage
            self._select = select
            self._prefix = prefix

        def __getattr__(self, name: str) -> Any:
            return getattr(self._storage, name)

        def get_all_trials(self, study_id: int, deepcopy: bool = True,
                           states: Container["TrialState"] | None = None
                           ) -> list["FrozenTrial"]:
            out = self._select(self._storage.get_all_trials(study_id, deepcopy=False,
                                                            states=states))
            return copy.deepcopy(out) if deepcopy else out

        def get_best_trial(self, study_id: int) -> "FrozenTrial":
            return BaseStorage.get_best_trial(self, study_id)  # type: ignore[arg-type]

        def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
            n = len(self._prefix)
            return {k[n:]: v for k, v in self._storage.get_study_system_attrs(study_id).items()
                    if k.startswith(self._prefix)}

        def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
            self._storage.set_study_system_attr(study_id, self._prefix + key, value)

    class StudyView(Study):
        """See :func:`study_view`."""

        def __init__(self, study: Study, select: Callable, prefix: str) -> None:
            # A view, not a new study: no Study.__init__ (it would load the study by name).
            # Samplers read trials through the storage and through Study._get_trials (which
            # Optuna's samplers call, with its per-thread cache), so both are replaced.
            self.__dict__.update(study.__dict__)
            self._view_of = study
            self._view_select = select
            self._storage = ViewStorage(study._storage, select, prefix)

        def _get_trials(self, deepcopy: bool = True,
                        states: Container["TrialState"] | None = None,
                        use_cache: bool = False) -> list["FrozenTrial"]:
            out = self._view_select(self._view_of._get_trials(deepcopy=False, states=states,
                                                              use_cache=use_cache))
            return copy.deepcopy(out) if deepcopy else out

    return ViewStorage, StudyView

