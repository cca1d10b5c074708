"""NAHAS's single-objective reward at a sweep of latency targets, hard vs soft (README.md).

For every latency target T and reward form (NAHAS's hard constraint p = 0, q = -1 and soft
constraint p = q = -0.071, area target = the baseline accelerator's), writes an objective set to
``objectives/`` and runs ``moo_cosearch.compare`` with every sampler and seed (one journal per
(reward, T) under ``runs/``: rerunning resumes). Then, per search, takes the design the search
returns (its best reward) and records its accuracy, latency and area and whether it breaks a
target, and the best accuracy among the evaluated designs that meet both targets. Writes
``summary.json``, ``report.md`` and ``accuracy_vs_target.png``.

    python studies/nahas-latency-targets/run.py [--seeds 5] [--trials 200] [--workers 1]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median

from moo_cosearch.compare import compare
from moo_cosearch.hardware import get_backend

HERE = Path(__file__).resolve().parent
SPACE = "nb201-edge"
TARGETS_MS = (0.005, 0.01, 0.02, 0.05)
REWARDS = {"hard": (0.0, -1.0), "soft": (-0.071, -0.071)}   # (p, q) of NAHAS's reward
SAMPLERS = ("ppo", "tpe", "phase", "hw-then-nas", "random")

TEMPLATE = '''name = "nahas-{reward}-{target}"
description = "NAHAS reward, {reward} constraint (p = {p}, q = {q}), latency target {target} ms, area target = the baseline accelerator's (studies/nahas-latency-targets)."
space = "{space}"
accuracy = {{ source = "nb201", metric = "cifar10_test_200ep" }}
cost = "edge"

[reward]
latency_ms = {target}
area_mm2 = "baseline"
p = {p}
q = {q}
'''


def _objective_file(reward: str, target: float) -> Path:
    p, q = REWARDS[reward]
    path = HERE / "objectives" / f"{reward}-{target:g}ms.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(TEMPLATE.format(reward=reward, target=f"{target:g}", p=p, q=q,
                                    space=SPACE))
    return path


def _search_outcome(study, target: float, area_target: float) -> dict:
    """The design a search returns (its best reward) and the best design meeting both
    targets it evaluated."""
    done = [t for t in study.trials if t.values and "latency_ms" in t.user_attrs
            and t.user_attrs.get("accuracy_evaluated")]
    pick = max(done, key=lambda t: (t.values[0], -t.number))
    meets = [t for t in done if t.user_attrs["latency_ms"] <= target
             and t.user_attrs["area_mm2"] <= area_target]
    a = pick.user_attrs
    return {"reward_value": pick.values[0], "accuracy": a["accuracy"], "latency_ms": a["latency_ms"],
            "area_mm2": a["area_mm2"], "trial": pick.number,
            "over_latency": a["latency_ms"] > target, "over_area": a["area_mm2"] > area_target,
            "best_accuracy_meeting_targets": max((t.user_attrs["accuracy"] for t in meets),
                                                 default=None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    area_target = get_backend("edge").reference("area_mm2")
    searches = []
    for target in TARGETS_MS:
        for reward in REWARDS:
            out = HERE / "runs" / f"{reward}-{target:g}ms"
            result = compare(SAMPLERS, space=SPACE,
                             objectives=str(_objective_file(reward, target)),
                             seeds=args.seeds, trials=args.trials, workers=args.workers,
                             out=out, latency_targets=[target], log=None)
            for key, study in sorted(result.studies.items()):
                sampler, seed = key.split("/seed")
                searches.append({"target_ms": target, "reward": reward, "sampler": sampler,
                                 "seed": int(seed),
                                 **_search_outcome(study, target, area_target)})
            print(f"T = {target:g} ms, {reward}: {len(result.studies)} searches")
    rows = _aggregate(searches)
    per_seed = _violations_per_sweep(searches)
    summary = {"space": SPACE, "targets_ms": list(TARGETS_MS), "rewards": REWARDS,
               "area_target_mm2": area_target, "samplers": list(SAMPLERS),
               "seeds": args.seeds, "trials": args.trials, "table": rows,
               "violations_per_sweep": per_seed, "searches": searches}
    (HERE / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (HERE / "report.md").write_text(_report(summary))
    _plot(rows)
    print((HERE / "report.md").read_text())


def _aggregate(searches: list[dict]) -> list[dict]:
    rows = []
    for sampler in SAMPLERS:
        for reward in REWARDS:
            for target in TARGETS_MS:
                mine = [s for s in searches if (s["sampler"], s["reward"], s["target_ms"])
                        == (sampler, reward, target)]
                meeting = [s["best_accuracy_meeting_targets"] for s in mine
                           if s["best_accuracy_meeting_targets"] is not None]
                rows.append({
                    "sampler": sampler, "reward": reward, "target_ms": target,
                    "searches": len(mine),
                    "over_latency": sum(s["over_latency"] for s in mine),
                    "over_area": sum(s["over_area"] for s in mine),
                    "median_accuracy_returned": median(s["accuracy"] for s in mine),
                    "median_latency_returned_ms": median(s["latency_ms"] for s in mine),
                    "median_best_accuracy_meeting_targets":
                        median(meeting) if meeting else None})
    return rows


def _violations_per_sweep(searches: list[dict]) -> list[dict]:
    """NAHAS's count: of the searches at the len(TARGETS_MS) latency targets run with one
    seed, how many return a design over its latency target (and, apart, over either target)."""
    out = []
    for sampler in SAMPLERS:
        for reward in REWARDS:
            mine = [s for s in searches if (s["sampler"], s["reward"]) == (sampler, reward)]
            seeds = sorted({s["seed"] for s in mine})
            latency = [sum(s["over_latency"] for s in mine if s["seed"] == seed)
                       for seed in seeds]
            either = [sum(s["over_latency"] or s["over_area"] for s in mine
                          if s["seed"] == seed) for seed in seeds]
            out.append({"sampler": sampler, "reward": reward, "over_latency": latency,
                        "median_over_latency": median(latency), "over_either": either,
                        "median_over_either": median(either), "of": len(TARGETS_MS)})
    return out


def _report(summary: dict) -> str:
    lines = ["# NAHAS reward at a sweep of latency targets: hard vs soft", "",
             f"Space `{summary['space']}`, NAS-Bench-201 CIFAR-10 accuracy (200 epochs), edge "
             f"cost model; area target {summary['area_target_mm2']:.2f} mm² (the baseline "
             f"accelerator's); {summary['seeds']} seeds × {summary['trials']} evaluated "
             "trials per search. *Returned*: the design with the best reward in the search; "
             "*over latency / area*: searches whose returned design is over the latency / the "
             "area target; *best meeting*: "
             "the best accuracy among evaluated designs meeting both targets (median over "
             "seeds).", "",
             "| sampler | reward | target ms | searches | over latency | over area | returned "
             "accuracy (median) | returned latency ms (median) | best meeting (median) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary["table"]:
        best = r["median_best_accuracy_meeting_targets"]
        lines.append(f"| {r['sampler']} | {r['reward']} | {r['target_ms']:g} | "
                     f"{r['searches']} | {r['over_latency']} | {r['over_area']} | "
                     f"{r['median_accuracy_returned']:.2f} | "
                     f"{r['median_latency_returned_ms']:.4g} | "
                     f"{'-' if best is None else f'{best:.2f}'} |")
    lines += ["", f"Violations per sweep of the {len(summary['targets_ms'])} targets (NAHAS's "
              "count: the searches of one seed whose returned design breaks its target), seed "
              "by seed, and the median over seeds:", "",
              "| sampler | reward | over the latency target | median | over either target "
              "| median |", "|---|---|---|---|---|---|"]
    for r in summary["violations_per_sweep"]:
        lines.append(f"| {r['sampler']} | {r['reward']} | "
                     f"{', '.join(map(str, r['over_latency']))} | "
                     f"{r['median_over_latency']:g} of {r['of']} | "
                     f"{', '.join(map(str, r['over_either']))} | "
                     f"{r['median_over_either']:g} of {r['of']} |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, sampler in enumerate(SAMPLERS):
        for reward, style in zip(REWARDS, ("-", "--")):
            mine = [r for r in rows if (r["sampler"], r["reward"]) == (sampler, reward)]
            ax.plot([r["target_ms"] for r in mine],
                    [r["median_accuracy_returned"] for r in mine], style, marker="o", color=f"C{i}",
                    label=f"{sampler}, {reward}")
    ax.set_xscale("log")
    ax.set_xlabel("latency target (ms)")
    ax.set_ylabel("accuracy of the returned design (median)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "accuracy_vs_target.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
