"""The RL controllers' learning state in the study: JSON only (tensors as base64 float32).

What is stored (:class:`RLState`): the policy's weights, the moving-average baseline, the
number of updates made (``version``), the trial numbers whose rewards have been learnt from
(``consumed``), and ``meta`` (algorithm, controller, hidden size, action-space signature) that
says which sampler configuration the weights fit.

Where: the state's JSON text is split into chunks of at most :data:`CHUNK` characters (the
``TEXT`` column of Optuna's RDB storage holds 64 KiB on MySQL; an LSTM policy is a few hundred
KiB) stored as study system attrs ``<KEY>:<slot>:<i>``, then a small header ``<KEY>`` names
the version, slot, number of chunks and a digest of the text. Two slots alternate by version,
so a reader of version ``v`` is not disturbed by the writer of ``v + 1``; a reader that still
catches a chunk mid-write (a digest mismatch) gets ``None`` and tries again at the next trial.
Writing the same two slots over again keeps an SQL storage's size constant (Optuna's
JournalStorage appends every write to its log instead: about 0.22 MB per update for the
default LSTM on nb201-edge's 13 parameters).

Each trial's sampled action indices and their log-probability under the sampling policy are
a trial system attr :data:`ACTIONS_KEY` (``{"sig", "a", "logp", "v"}``), so any worker can
compute an update from the trials alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from optuna.storages import BaseStorage

__all__ = ["ACTIONS_KEY", "CHUNK", "KEY", "RLState", "digest", "read_header", "read_state",
           "write_state"]

KEY = "moo_cosearch:rl_state"
ACTIONS_KEY = "moo_cosearch:rl_actions"
CHUNK = 60_000


@dataclass
class RLState:
    """The learning state of an RL controller (module docstring)."""

    meta: dict[str, Any]
    weights: dict[str, torch.Tensor]
    baseline: float | None = None
    version: int = 0
    consumed: set[int] = field(default_factory=set)

    def dumps(self) -> str:
        """The JSON text of the state (weights as base64 of their float32 bytes)."""
        weights = {name: {"shape": list(t.shape), "data": base64.b64encode(
            t.detach().to(torch.float32).contiguous().numpy().tobytes()).decode("ascii")}
            for name, t in self.weights.items()}
        return json.dumps({"meta": self.meta, "weights": weights, "baseline": self.baseline,
                           "version": self.version, "consumed": sorted(self.consumed)})

    @classmethod
    def loads(cls, text: str) -> "RLState":
        """The state of :meth:`dumps`'s text."""
        d = json.loads(text)
        weights = {name: torch.from_numpy(np.frombuffer(base64.b64decode(w["data"]),
                                                        dtype=np.float32).copy()
                                          ).reshape(w["shape"])
                   for name, w in d["weights"].items()}
        return cls(d["meta"], weights, d["baseline"], int(d["version"]),
                   {int(n) for n in d["consumed"]})


def digest(text: str) -> str:
    """A short digest of a state's text (tells states apart, detects torn reads)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def read_header(storage: BaseStorage, study_id: int) -> tuple[dict[str, Any] | None,
                                                                dict[str, Any]]:
    """The stored header (None if no state was written yet) and all study system attrs."""
    attrs = storage.get_study_system_attrs(study_id)
    header = attrs.get(KEY)
    return (header if isinstance(header, dict) else None), attrs


def read_state(header: dict[str, Any], attrs: dict[str, Any]) -> RLState | None:
    """The state ``header`` names, or None while its chunks are being rewritten."""
    chunks = [attrs.get(f"{KEY}:{header['slot']}:{i}") for i in range(int(header["chunks"]))]
    if any(not isinstance(c, str) for c in chunks):
        return None
    text = "".join(chunks)
    return RLState.loads(text) if digest(text) == header["sha"] else None


def write_state(storage: BaseStorage, study_id: int, state: RLState) -> str:
    """Store ``state`` (chunks first, then the header that makes them current); its digest."""
    text = state.dumps()
    slot = state.version % 2
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    for i, chunk in enumerate(chunks):
        storage.set_study_system_attr(study_id, f"{KEY}:{slot}:{i}", chunk)
    sha = digest(text)
    storage.set_study_system_attr(study_id, KEY, {"version": state.version, "slot": slot,
                                                  "chunks": len(chunks), "sha": sha})
    return sha
