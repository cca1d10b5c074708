"""HEFT list scheduling of task chains on sub-accelerators, vectorised over designs.

The mapping-and-scheduling stage of the NASAIC model (:mod:`moo_cosearch.hardware.hetero`):
given each layer's latency and energy on every sub-accelerator (from the dataflow templates), it
places the layers of every task and returns the makespan, per-task finish times and energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Schedule", "schedule"]


@dataclass(frozen=True)
class Schedule:
    """Outcome of :func:`schedule` for n designs.

    Attributes:
        makespan: (n,) time the last layer of any task finishes (latency units of the input).
        task_finish: (n, T) finish time of each task's last layer (0 for an empty network).
        energy: (n,) sum of the energies of the placements chosen.
        assignment: one (n, L_j) int array per task: the sub-accelerator of each layer
            (-1 on padding rows).
        busy: (n, A) time each sub-accelerator computes.
    """

    makespan: np.ndarray
    task_finish: np.ndarray
    energy: np.ndarray
    assignment: tuple[np.ndarray, ...]
    busy: np.ndarray


def schedule(latency: Sequence[np.ndarray], energy: Sequence[np.ndarray],
             valid: Sequence[np.ndarray], present: np.ndarray) -> Schedule:
    """HEFT list scheduling of T chains of layers on A sub-accelerators, for n designs at once.

    Args:
        latency: per task an (n, L_j, A) array: latency of each layer on each sub-accelerator.
        energy: per task an (n, L_j, A) array of energies.
        valid: per task an (n, L_j) bool array; True rows first (padding at the end).
        present: (n, A) bool; absent sub-accelerators get no layer. Every design needs one.

    Returns:
        A :class:`Schedule` (see the module docstring for the rule).

    Raises:
        ValueError: mismatched shapes, or a design without a present sub-accelerator.
    """
    present = np.asarray(present, dtype=bool)
    n, n_acc = present.shape
    n_tasks = len(latency)
    if not (len(energy) == len(valid) == n_tasks) or n_tasks == 0:
        raise ValueError(f"schedule needs one latency, energy and valid array per task, got "
                         f"{len(latency)}, {len(energy)}, {len(valid)}")
    for j in range(n_tasks):
        lat_shape, val_shape = np.shape(latency[j]), np.shape(valid[j])
        if (np.shape(energy[j]) != lat_shape or len(lat_shape) != 3 or lat_shape[0] != n
                or lat_shape[2] != n_acc or val_shape != lat_shape[:2]):
            raise ValueError(f"task {j}: latency and energy must be (n={n}, L, A={n_acc}) and "
                             f"valid (n, L), got {lat_shape}, {np.shape(energy[j])}, "
                             f"{val_shape}")
    if not present.any(axis=1).all():
        raise ValueError("every design needs a present sub-accelerator, design "
                         f"{int(np.flatnonzero(~present.any(axis=1))[0])} has none")
    rows = np.arange(n)
    n_present = present.sum(axis=1)
    lat = [np.where(present[:, None, :], np.asarray(a, dtype=np.float64), np.inf)
           for a in latency]
    eng = [np.asarray(a, dtype=np.float64) for a in energy]
    val = [np.asarray(v, dtype=bool) for v in valid]
    n_layers = [v.sum(axis=1) for v in val]
    ranks = []
    for j in range(n_tasks):
        mean = np.where(present[:, None, :], lat[j], 0.0).sum(axis=2) / n_present[:, None]
        mean = np.where(val[j], mean, 0.0)
        ranks.append(np.cumsum(mean[:, ::-1], axis=1)[:, ::-1])
    ptr = np.zeros((n, n_tasks), dtype=np.int64)
    ready = np.zeros((n, n_tasks))
    avail = np.zeros((n, n_acc))
    busy = np.zeros((n, n_acc))
    total_e = np.zeros(n)
    assign = [np.full(v.shape, -1, dtype=np.int64) for v in val]
    for _ in range(sum(v.shape[1] for v in val)):
        cand = np.full((n, n_tasks), -np.inf)
        for j in range(n_tasks):
            has = ptr[:, j] < n_layers[j]
            if val[j].shape[1]:
                at = np.minimum(ptr[:, j], val[j].shape[1] - 1)
                cand[:, j] = np.where(has, ranks[j][rows, at], -np.inf)
        active = np.isfinite(cand).any(axis=1)
        if not active.any():
            break
        jt = np.argmax(cand, axis=1)
        lat_sel = np.zeros((n, n_acc))
        e_sel = np.zeros((n, n_acc))
        for j in range(n_tasks):
            m = active & (jt == j)
            if m.any():
                lat_sel[m] = lat[j][rows[m], ptr[m, j]]
                e_sel[m] = eng[j][rows[m], ptr[m, j]]
        start = np.maximum(avail, ready[rows, jt][:, None])
        finish = start + lat_sel
        acc = np.argmin(finish, axis=1)
        fin = finish[rows, acc]
        r = rows[active]
        a, jj = acc[active], jt[active]
        avail[r, a] = fin[active]
        busy[r, a] += lat_sel[r, a]
        ready[r, jj] = fin[active]
        total_e[r] += e_sel[r, a]
        for j in range(n_tasks):
            m = jj == j
            assign[j][r[m], ptr[r[m], j]] = a[m]
        ptr[r, jj] += 1
    return Schedule(makespan=ready.max(axis=1), task_finish=ready, energy=total_e,
                    assignment=tuple(assign), busy=busy)
