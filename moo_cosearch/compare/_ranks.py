"""Samplers ranked across several comparisons (problems): ``moo-cosearch compare-ranks DIR...``
reads each folder's ``summary.json`` and gives Demšar's average ranks of the samplers every
problem ran, with the Friedman test and the Nemenyi critical difference
(:func:`~moo_cosearch.compare._stats.average_ranks`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ._stats import MIN_SEEDS, average_ranks
from ._text import fmt

__all__ = ["rank_folders"]


def _load(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no summary.json: run moo-cosearch compare --out "
                         f"{folder} first") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not a comparison summary ({e})") from None


def rank_folders(folders: Sequence[str | Path]) -> tuple[dict[str, Any], str]:
    """Average ranks over the comparisons in ``folders`` (one problem each: its space and
    objective set), by each sampler's median final hypervolume there; and the Markdown table.

    Raises:
        ValueError: fewer than two folders, a folder without a summary, or two folders of the
            same problem.
    """
    if len(folders) < 2:
        raise ValueError(f"give two or more comparison folders, got {len(folders)}")
    per_problem: dict[str, dict[str, float]] = {}
    seeds: dict[str, int] = {}
    for folder in map(Path, folders):
        s = _load(folder)
        problem = f"{s['space']}/{s['objectives']}"
        if problem in per_problem:
            raise ValueError(f"{folder} is a second comparison of {problem}; give one folder "
                             f"per problem")
        per_problem[problem] = {n: v["median_hv"] for n, v in s["samplers"].items()
                                if v.get("median_hv") is not None}
        for n, v in s["samplers"].items():
            seeds[n] = min(seeds.get(n, v["runs"]), v["runs"])
    ranks = average_ranks(per_problem)
    ranks["min_runs"] = {n: seeds[n] for n in ranks["samplers"]}
    order = sorted(ranks["samplers"], key=ranks["samplers"].get)
    lines = [f"Average rank over {len(per_problem)} problems (1 = the highest median "
             f"hypervolume; ties share ranks): {', '.join(ranks['problems'])}.", "",
             "| sampler | average rank | fewest runs on a problem |", "|---|---|---|"]
    lines += [f"| {n} | {ranks['samplers'][n]:.2f} | {ranks['min_runs'][n]} |" for n in order]
    few = [n for n in order if ranks["min_runs"][n] < MIN_SEEDS]
    if ranks["friedman_p"] is not None:
        lines += ["", f"Friedman test p = {fmt(ranks['friedman_p'])}."]
    if ranks["critical_difference"] is not None:
        lines += [f"Nemenyi critical difference (alpha = 0.05): "
                  f"{ranks['critical_difference']:.2f}: samplers whose average ranks differ by "
                  f"less are not told apart."]
    if few:
        lines += [f"Medians of fewer than {MIN_SEEDS} runs for {', '.join(few)}: their ranks "
                  f"rest on few seeds."]
    return ranks, "\n".join(lines) + "\n"
