"""End to end: wall time of the DPO pipeline, stage by stage, and when it reached a target.

    python -m jaxrec.experiments.bench_pipeline [--target 0.2] [--smoke] [--json]
        [--out experiments/results/bench_pipeline_cpu] [-- DPO FLAGS...]

Runs `python -m jaxrec.experiments.dpo` (its defaults: the embedded default; flags after
`--` go to it) in a fresh run folder and reports the seconds of each stage (set-up, warm
start, trajectories and pairs, DPO), the held-out success rate and score after the warm
start and after DPO, and the first of those two points at which the held-out success rate
reached `--target` (null if neither did). `--smoke` runs the pipeline's tiny CI config.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from jaxrec.experiments import dpo
from jaxrec.experiments.bench_report import environment, save

SMOKE = [
    "--tiny",
    "--source=oracle",
    "--demo-goals=4",
    "--eval-goals=2",
    "--eval-max-steps=6",
    "--il-steps=2",
    "--il-batch=4",
    "--steps=2",
    "--batch=4",
    "--state-len=48",
    "--action-len=10",
]


def run(dpo_args: list[str], target: float) -> dict[str, Any]:
    """The pipeline's timings and held-out figures, and when it first reached `target`."""
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        dpo.main([*dpo_args, f"--run-dir={run_dir}"])
        results = json.loads((run_dir / dpo.RESULTS).read_text())
    seconds = results["seconds"]
    points = [
        ("warm_start", results["warm_start"], seconds["setup"] + seconds["warm_start"]),
        ("dpo", results["dpo"], seconds["total"]),
    ]
    reached = next(
        ({"stage": stage, "seconds": at} for stage, fig, at in points if fig["success"] >= target),
        None,
    )
    return {
        "target_success": target,
        "reached": reached,
        "seconds": seconds,
        "held_out": {stage: fig for stage, fig, _ in points},
        "rule": results["rule"],
        "sources": results["sources"],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, dpo_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.bench_pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--target", type=float, default=0.2, help="held-out success rate")
    parser.add_argument("--smoke", action="store_true", help="the tiny CI config")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", help="write OUT.json")
    args = parser.parse_args(ours)
    figures = run([*SMOKE, *dpo_args] if args.smoke else dpo_args, args.target)
    payload = {**environment("jaxrec.experiments.bench_pipeline", argv), **figures}
    if not args.json:
        for stage, fig in figures["held_out"].items():
            print(f"{stage:>10}: success {fig['success']:.1%}, score {fig['score']:.1f}")
        print(f"seconds by stage: {figures['seconds']}")
        where = figures["reached"]
        print(
            f"target success {args.target:.0%}: "
            + (
                f"reached after {where['stage']} at {where['seconds']:.0f} s"
                if where
                else "not reached"
            )
        )
    save(payload, args.out, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
