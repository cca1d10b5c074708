"""The model's training data, read from the study's trials.

- COMPLETE trials → ``X`` (encoded by the :class:`~._encoding.Encoder`), ``Yobj`` (objective
  values times ``sign``: +1 maximised, -1 minimised, so that larger is better for every
  column), ``C`` (constraint values, feasible when <= 0) and ``feasible``. Trials with a
  non-finite value are left out, and so are constraints that never varied (no information).
- RUNNING trials → pending designs: the parameters suggested so far, completed by what the
  sampler proposed for the trial (stored as the JSON system attr :data:`PARAMS_KEY` when the
  model proposed it, :data:`STARTUP_KEY` for a start-up design), so that workers sharing a
  storage see each other's designs in flight.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from ._encoding import Encoder

__all__ = ["PARAMS_KEY", "STARTUP_KEY", "observations", "pending_params"]

#: Trial system attr holding the sampler's proposal (JSON param dict).
PARAMS_KEY = "moo_cosearch:qehvi_params"
#: Trial system attr holding a start-up (random, de-duplicated) design (JSON param dict).
STARTUP_KEY = "moo_cosearch:qehvi_startup_params"


def pending_params(trial: FrozenTrial) -> dict[str, Any]:
    """Params of a RUNNING trial: those suggested so far plus what the sampler proposed."""
    stored = trial.system_attrs.get(PARAMS_KEY) or trial.system_attrs.get(STARTUP_KEY)
    params = json.loads(stored) if stored else {}
    params.update(trial.params)
    return params


def observations(enc: Encoder, done: list[FrozenTrial], sign: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, dim), ``Yobj`` (n, m), ``C`` (n, n_constraints) and ``feasible`` (n,) of the
    completed trials ``done`` (see the module docstring)."""
    X = enc.encode([t.params for t in done])
    Yobj = np.array([t.values for t in done], dtype=float) * sign
    names = sorted({k for t in done for k in t.constraints})
    C = np.array([[t.constraints.get(k, 0.0) for k in names] for t in done],
                 dtype=float).reshape(len(done), len(names))
    finite = np.all(np.isfinite(Yobj), axis=1) & np.all(np.isfinite(C), axis=1)
    X, Yobj, C = X[finite], Yobj[finite], C[finite]
    feasible = np.all(C <= 0, axis=1)
    C = C[:, np.ptp(C, axis=0) > 0]  # a constraint that never varied carries no information
    return X, Yobj, C, feasible
