"""Draw joint designs, evaluate them with a cost backend in worker processes, store columns.

:func:`sample_designs` writes chunks of ``chunk`` designs to ``<out>.parts/part-NNNNN.npz`` as
they finish (so an interrupted run loses at most the chunks in flight), then joins them into
``out`` (one ``.npz`` of columns). Rerunning with the same arguments resumes: finished chunks
are kept, and since chunk ``c`` draws its designs from the seed ``(seed, c)`` the result does not
depend on how often the run was interrupted or on the number of workers.

Columns: ``idx`` (n, n_searched) grid indices of the searched parameters (see
:class:`~moo_cosearch.surrogate.FeatureSchema`), one float column per backend metric
(``latency_ms`` ...), ``feasible`` (bool) and ``reason`` (str; ``"error: ..."`` when the backend
raised on that design, whose metrics are then NaN). ``meta`` holds a JSON string: the space
definition and hash, the backend name, the seed, the number of perturbed designs.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..space import JointSpace

__all__ = ["sample_designs", "load_samples", "draw_indices"]

_FORMAT = "moo-cosearch-samples/1"


def draw_indices(space: "JointSpace", n: int, rng: np.random.Generator,
                 around: np.ndarray | None = None, perturb_frac: float = 0.0,
                 max_changes: int = 3, per_accelerator: int = 1) -> np.ndarray:
    """Grid indices (n, n_searched): uniform draws, except that a ``perturb_frac`` share of rows
    are copies of random rows of ``around`` with 1..``max_changes`` parameters redrawn to a
    different value (local perturbations of given designs). With ``per_accelerator`` k > 1,
    consecutive groups of k rows share one uniformly drawn accelerator (the ``has``
    parameters) and draw their networks independently: a backend that caches per (layer,
    accelerator), such as ZigZag, then prices a group for little more than one design."""
    params = [p for p in space.params if not p.fixed]
    ks = np.array([len(p.choices) for p in params])
    idx = (rng.random((n, len(params))) * ks).astype(np.int64)
    if per_accelerator > 1:
        has = np.array([p.group == "has" for p in params])
        first = np.arange(n) // per_accelerator * per_accelerator
        idx[:, has] = idx[first][:, has]
    if around is not None and len(around) and perturb_frac > 0:
        m = int(round(n * perturb_frac))
        rows = np.asarray(around)[rng.integers(len(around), size=m)].copy()
        movable = np.flatnonzero(ks > 1)
        for r in range(m):
            cols = rng.choice(movable, size=min(len(movable), rng.integers(1, max_changes + 1)),
                              replace=False)
            shift = rng.integers(1, ks[cols])            # never the current value
            rows[r, cols] = (rows[r, cols] + shift) % ks[cols]
        idx[:m] = rows
    return idx


def _evaluate_chunk(space_dict: Mapping[str, Any], backend_name: str, idx: np.ndarray,
                    metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Evaluate one chunk (runs in a worker). A backend error on the batch is retried design by
    design so that one crashing design costs only its own row."""
    from ..hardware import get_backend
    from ..space import JointSpace

    space = JointSpace.from_dict(space_dict)
    backend = get_backend(backend_name)
    designs = space.from_indices(idx)
    cols: dict[str, np.ndarray] = {m: np.full(len(idx), np.nan) for m in metrics}
    feasible = np.zeros(len(idx), dtype=bool)
    reason = np.empty(len(idx), dtype=object)
    try:
        res = backend(space, designs)
        for m in metrics:
            cols[m] = np.asarray(res.metric(m), dtype=np.float64)
        feasible[:] = res.feasible
        reason[:] = res.reason
    except Exception:
        for i, d in enumerate(designs):
            try:
                r = backend(space, [d])
                for m in metrics:
                    cols[m][i] = float(r.metric(m)[0])
                feasible[i], reason[i] = bool(r.feasible[0]), r.reason[0]
            except Exception as e:  # the simulator crashed on this design: keep it, labelled
                reason[i] = f"error: {type(e).__name__}: {e}"
    return {"idx": idx.astype(np.int16), **cols, "feasible": feasible,
            "reason": reason.astype(str)}


def sample_designs(space: "JointSpace | str", backend: str, n: int, out: str | Path, *,
                   seed: int = 0, workers: int | None = None, chunk: int = 2000,
                   around: Sequence[Mapping[str, Any]] | None = None, perturb_frac: float = 0.0,
                   per_accelerator: int = 1, progress: bool = True) -> Path:
    """Sample ``n`` designs of ``space``, evaluate them with cost backend ``backend`` and write
    the columns to ``out`` (``.npz``). Resumes from ``<out>.parts/`` if present.

    Args:
        space: a :class:`JointSpace` or a built-in name / TOML path.
        backend: cost backend name (``get_backend``); each worker builds its own.
        n: number of designs.
        out: the ``.npz`` file to write.
        seed: base seed; chunk ``c`` uses ``(seed, c)``.
        workers: worker processes (default: CPU count, at most the number of chunks);
            1 evaluates in this process.
        chunk: designs per chunk (unit of parallelism and of resumption).
        around: designs to perturb locally (e.g. a study's Pareto set).
        perturb_frac: share of each chunk that are local perturbations of ``around``.
        per_accelerator: networks drawn per accelerator (groups of designs sharing one; see
            :func:`draw_indices`): for slow per-layer-cached backends (``zigzag``). Groups
            never straddle chunks when ``chunk`` is a multiple of it.
        progress: show a tqdm progress bar.

    Returns:
        The path of the written file.
    """
    from tqdm.auto import tqdm

    from ..hardware import backend_metrics
    from ..space import load_space

    space = load_space(space) if not hasattr(space, "params") else space
    if n < 1 or chunk < 1:
        raise ValueError(f"n and chunk must be >= 1, got n={n}, chunk={chunk}")
    if isinstance(per_accelerator, bool) or not isinstance(per_accelerator, int) \
            or per_accelerator < 1:
        raise ValueError(f"per_accelerator must be an integer >= 1, got {per_accelerator!r}")
    if not 0 <= perturb_frac <= 1:
        raise ValueError(f"perturb_frac must lie in [0, 1], got {perturb_frac}")
    if perturb_frac > 0 and not around:
        raise ValueError("perturb_frac > 0 needs designs to perturb (around=...)")
    metrics = backend_metrics(backend)
    out = Path(out)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    meta = {"format": _FORMAT, "space": space.to_dict(), "space_hash": space.definition_hash,
            "backend": backend, "metrics": list(metrics), "seed": seed, "n": n, "chunk": chunk,
            "perturb_frac": perturb_frac, "n_around": len(around or []),
            "per_accelerator": per_accelerator}
    meta_path = parts / "meta.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} != meta:
            diff = sorted(k for k in meta if old.get(k) != meta[k])
            raise ValueError(f"{parts} holds a run with other settings ({diff}); remove it or "
                             f"choose another --out")
    else:
        meta_path.write_text(json.dumps(meta))
    around_idx = space.indices(around) if around else None
    n_chunks = -(-n // chunk)
    todo = [c for c in range(n_chunks) if not (parts / f"part-{c:05d}.npz").exists()]
    sizes = {c: min(chunk, n - c * chunk) for c in range(n_chunks)}
    bar = tqdm(total=n, initial=n - sum(sizes[c] for c in todo), unit="design",
               desc=f"sample {space.name} [{backend}]", disable=not progress, file=sys.stderr)

    def job(c: int) -> np.ndarray:
        rng = np.random.default_rng([seed, c])
        return draw_indices(space, sizes[c], rng, around_idx, perturb_frac,
                            per_accelerator=per_accelerator)

    def save(c: int, cols: Mapping[str, np.ndarray]) -> None:
        tmp = parts / f"part-{c:05d}.tmp.npz"
        np.savez(tmp, **cols)
        os.replace(tmp, parts / f"part-{c:05d}.npz")     # a part is there whole or not at all
        bar.update(sizes[c])

    workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    if workers <= 1:
        for c in todo:
            save(c, _evaluate_chunk(meta["space"], backend, job(c), metrics))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {c: pool.submit(_evaluate_chunk, meta["space"], backend, job(c), metrics)
                       for c in todo}
            for c, f in futures.items():
                save(c, f.result())
    bar.close()
    cols = [dict(np.load(parts / f"part-{c:05d}.npz")) for c in range(n_chunks)]
    joined = {k: np.concatenate([p[k] for p in cols]) for k in cols[0]}
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **joined, meta=np.array(json.dumps(meta)))
    os.replace(tmp, out)
    for c in range(n_chunks):
        (parts / f"part-{c:05d}.npz").unlink()
    meta_path.unlink()
    parts.rmdir()
    return out


def load_samples(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Columns and metadata of a file written by :func:`sample_designs` (loaded without
    pickle)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            cols = {k: f[k] for k in f.files}
        meta = json.loads(str(cols.pop("meta")))
    except FileNotFoundError:
        raise ValueError(f"no sample file {str(path)!r}") from None
    except Exception as e:
        raise ValueError(f"{path} is not a readable sample file ({type(e).__name__}: {e})") \
            from None
    if meta.get("format") != _FORMAT or "idx" not in cols:
        raise ValueError(f"{path} is not a moo-cosearch sample file (format "
                         f"{meta.get('format')!r})")
    return cols, meta
