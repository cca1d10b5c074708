"""Where a comparison's numbers come from: software versions, the git commit of a checkout,
the machine, every sampler's options, hashes of the space and objective set, and the times;
and the settings a comparison folder is kept to (a second comparison with other settings is
refused instead of mixing its runs into the first one's report)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ..objectives import ObjectiveSet
    from ..space import JointSpace

__all__ = ["SETTINGS_FILE", "check_settings", "now", "objectives_hash", "provenance"]

#: The file in a comparison folder that holds the settings it was started with.
SETTINGS_FILE = "compare.json"
#: Distributions whose versions decide a comparison's numbers.
_PACKAGES = ("moo-cosearch", "optuna", "botorch", "gpytorch", "torch", "pymoo", "numpy",
             "scipy", "moocore")


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def objectives_hash(objectives: "ObjectiveSet") -> str:
    """A short hash of the objective set's whole declaration (name, objectives, limits,
    accuracy source, cost backend, reference point)."""
    text = json.dumps(dataclasses.asdict(objectives), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Output of a git command in the checkout this package runs from (None elsewhere)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    """Names of the NVIDIA GPUs ``nvidia-smi`` lists (none where it is missing)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def provenance(space: "JointSpace", objectives: "ObjectiveSet",
               options: Mapping[str, Mapping[str, Any]], samplers: list[str],
               started: str) -> dict[str, Any]:
    """The provenance block of ``summary.json`` (``finished`` is the time of this call)."""
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "versions": {name: _version(name) for name in _PACKAGES},
        "python": platform.python_version(),
        "git_commit": commit,
        "git_dirty": bool(dirty) if commit else None,
        "machine": {"platform": platform.platform(), "cpu": _cpu_model(),
                    "cores": os.cpu_count(), "gpus": _gpus()},
        "sampler_options": {name: dict(options.get(name, {})) for name in samplers},
        "sampler_options_note": "options given; every other option at its default in the "
                                "versions above",
        "space_hash": space.definition_hash,
        "objectives_hash": objectives_hash(objectives),
        "started": started,
        "finished": now(),
    }


def check_settings(folder: Path, settings: Mapping[str, Any]) -> None:
    """Record ``settings`` in ``folder`` on the first comparison there; refuse (one line) a
    later one whose settings differ, naming what differs. The same settings resume.

    Raises:
        ValueError: the folder holds a comparison made with other settings, or an
            unreadable settings file.
    """
    path = folder / SETTINGS_FILE
    new = json.loads(json.dumps(settings, sort_keys=True, default=str))
    if not path.exists():
        path.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        return
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a comparison's settings file ({e}); use another "
                         f"--out folder") from None
    differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if differ:
        what = "; ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in differ)
        raise ValueError(f"{folder} holds a comparison with other settings ({what}); use "
                         f"another --out folder, or the same settings to resume")
