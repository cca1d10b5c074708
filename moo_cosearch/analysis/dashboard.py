"""optuna-dashboard that knows which designs are feasible.

Optuna 5 records constraints one key per constraint (``trial.set_constraint(name, value)``:
system attrs ``"constraints:<name>"``, read back as ``FrozenTrial.constraints``); optuna-dashboard
0.21 reads only the key of Optuna < 4.5 (system attr ``"constraints"``, a list), so on its own it
shows every trial of our studies as feasible, and its "Best Trials" are computed from every
completed trial, constraints or not. Writing the old key next to the new one is no way out:
Optuna reads both, so every sampler would then see each constraint twice.

:func:`dashboard_app` / :func:`run_dashboard` serve optuna-dashboard on a read view of the
storage that adds the old key to every trial read (nothing is written), and with best trials
taken among feasible trials only::

    python -m moo_cosearch.analysis.dashboard sqlite:///runs/moo-cosearch.db [--port 8080]

Needs ``optuna-dashboard`` (in the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any, Sequence

from ._pareto import is_feasible

if TYPE_CHECKING:
    import optuna

__all__ = ["dashboard_app", "dashboard_storage", "run_dashboard"]

_LEGACY_KEY = "constraints"   # optuna.study._constrained_optimization._CONSTRAINTS_KEY


def _with_legacy_constraints(trial: "optuna.trial.FrozenTrial") -> "optuna.trial.FrozenTrial":
    """``trial`` with its constraints also under the old list key (a copy; unchanged when it
    has no per-name constraints or already has the old key)."""
    from optuna.trial import FrozenTrial

    from ..samplers.seam import trial_id

    attrs = trial.system_attrs
    if _LEGACY_KEY in attrs or not any(k.startswith(_LEGACY_KEY + ":") for k in attrs):
        return trial
    return FrozenTrial(
        number=trial.number, state=trial.state, value=None,
        datetime_start=trial.datetime_start, datetime_complete=trial.datetime_complete,
        params=trial.params, distributions=trial.distributions, user_attrs=trial.user_attrs,
        system_attrs={**attrs, _LEGACY_KEY: [float(v) for v in trial.constraints.values()]},
        intermediate_values=trial.intermediate_values, trial_id=trial_id(trial),
        values=trial.values)


def _delegate(name: str):
    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


@functools.cache
def _view_class() -> type:
    from optuna.storages import BaseStorage
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    def get_trial(self, trial_id: int) -> "optuna.trial.FrozenTrial":
        return _with_legacy_constraints(self._inner.get_trial(trial_id))

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Any = None) -> list["optuna.trial.FrozenTrial"]:
        return [_with_legacy_constraints(t) for t in
                self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)]

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return self.get_trial(trial_id).system_attrs

    def get_best_trial(self, study_id: int) -> "optuna.trial.FrozenTrial":
        """The best feasible completed trial (all completed trials when none is feasible)."""
        direction, = self.get_study_directions(study_id)
        done = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
        pool = [t for t in done if is_feasible(t)] or done
        if not pool:
            raise ValueError("no completed trials")
        pick = max if direction == StudyDirection.MAXIMIZE else min
        return pick(pool, key=lambda t: t.value)

    namespace: dict[str, Any] = {name: _delegate(name) for name, member in vars(BaseStorage).items()
                                 if callable(member) and not name.startswith("_")}
    namespace.update(
        __init__=lambda self, inner: setattr(self, "_inner", inner),
        __doc__="Read view of a storage: trials carry their constraints under the old key too.",
        get_trial=get_trial, get_all_trials=get_all_trials,
        get_trial_system_attrs=get_trial_system_attrs, get_best_trial=get_best_trial)
    return type("FeasibilityView", (BaseStorage,), namespace)


def dashboard_storage(storage: "str | optuna.storages.BaseStorage"
                      ) -> "optuna.storages.BaseStorage":
    """A view of ``storage`` (URL or storage) whose trials carry their constraints under the key
    optuna-dashboard reads too, and whose best single-objective trial is the best feasible one.
    Writes (notes, user attrs from the dashboard) go through to ``storage``."""
    import optuna

    if isinstance(storage, str):
        storage = optuna.storages.get_storage(storage)
    return _view_class()(storage)


def _feasible_front(trials: Sequence["optuna.trial.FrozenTrial"], directions: Sequence[Any],
                    *, front) -> list["optuna.trial.FrozenTrial"]:
    return front([t for t in trials if is_feasible(t)], directions)


def dashboard_app(storage: "str | optuna.storages.BaseStorage", **options: Any):
    """optuna-dashboard's WSGI app (``optuna_dashboard.wsgi``) on :func:`dashboard_storage`,
    with the "Best Trials" of multi-objective studies taken among feasible trials.

    optuna-dashboard has no option for that: its module-level function that computes them
    (``optuna_dashboard._app.get_pareto_front_trials``) is wrapped once, to get only the
    feasible trials (unconstrained studies: all of them, as before). ``options`` go to
    ``optuna_dashboard.wsgi``."""
    import optuna_dashboard
    from optuna_dashboard import _app

    if not hasattr(_app.get_pareto_front_trials, "moo_cosearch_original"):
        original = _app.get_pareto_front_trials
        wrapped = functools.partial(_feasible_front, front=original)
        wrapped.moo_cosearch_original = original  # type: ignore[attr-defined]
        _app.get_pareto_front_trials = wrapped
    return optuna_dashboard.wsgi(dashboard_storage(storage), **options)


def run_dashboard(storage: "str | optuna.storages.BaseStorage", host: str = "localhost",
                  port: int = 8080) -> None:
    """Serve :func:`dashboard_app` until interrupted (the standard library's WSGI server, as
    ``optuna-dashboard`` itself uses by default)."""
    from wsgiref.simple_server import make_server

    with make_server(host, port, dashboard_app(storage)) as server:
        print(f"optuna-dashboard (feasibility-aware) on http://{host}:{port}/ ; Ctrl-C stops")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moo_cosearch.analysis.dashboard",
        description="optuna-dashboard showing which trials are feasible (see the module doc)")
    parser.add_argument("storage", help="storage URL, e.g. sqlite:///runs/moo-cosearch.db")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    run_dashboard(args.storage, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
