"""Evaluate the built-in agents (rule, random, oracle) on held-out goals of a catalog.

    python -m jaxrec.experiments.baselines [--data DIR] [--episodes 200] [--split product]

Without `--data` (or JAXREC_WEBSHOP_DATA) it runs on the embedded synthetic catalog. Prints
success rate and score (100 x mean reward) with 95% intervals per agent, and writes
`results.json` and `baselines.png` into the run folder.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jaxrec.data.cli import add_data_argument, catalog_dir
from jaxrec.data.splits import split_goals
from jaxrec.data.store_data import build_store_data
from jaxrec.eval.stats import mean_interval, wilson_interval
from jaxrec.experiments.run_dir import make_run_dir, write_json
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import POLICIES, run_episode
from jaxrec.webshop.store import WebShopStore


def evaluate(env: AgentEnv, policy_name: str, goals: np.ndarray, seed: int) -> dict:
    """Run one agent on every goal index given; success and score with 95% intervals."""
    rng = np.random.default_rng(seed)
    policy = POLICIES[policy_name]
    start = time.perf_counter()
    episodes = [
        run_episode(env, policy, int(g), rng)
        for g in tqdm(goals, desc=f"{policy_name:>6}", unit="ep", leave=False)
    ]
    seconds = time.perf_counter() - start
    rewards = [e.reward for e in episodes]
    successes = sum(e.success for e in episodes)
    score, score_lo, score_hi = mean_interval(rewards)
    return {
        "episodes": len(episodes),
        "success_rate": successes / len(episodes),
        "success_ci95": wilson_interval(successes, len(episodes)),
        "score": 100 * score,
        "score_ci95": (100 * score_lo, 100 * score_hi),
        "mean_steps": float(np.mean([e.steps for e in episodes])),
        "steps_per_second": sum(e.steps for e in episodes) / seconds,
    }


def plot(results: dict[str, dict], path: Path, title: str) -> None:
    """Success rate and score per agent, with their 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    panels = (
        ("success_rate", "success_ci95", "success rate (%)", 100),
        ("score", "score_ci95", "score", 1),
    )
    for ax, (key, ci, label, scale) in zip(axes, panels, strict=True):
        values = np.array([results[n][key] * scale for n in names])
        bounds = np.array([results[n][ci] for n in names]).T * scale
        errors = np.stack([values - bounds[0], bounds[1] - values])
        ax.bar(
            names,
            values,
            yerr=errors,
            capsize=4,
            color=["#4c72b0", "#dd8452", "#55a868"][: len(names)],
        )
        ax.set_ylabel(label)
        ax.set_ylim(0, 100)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.baselines", description=__doc__.split("\n")[0]
    )
    add_data_argument(parser)
    parser.add_argument(
        "--policies", default="rule,random,oracle", help="comma-separated: rule, random, oracle"
    )
    parser.add_argument(
        "--split",
        default="product",
        choices=["product", "index"],
        help="goal split (default: product-held-out)",
    )
    parser.add_argument(
        "--part", default="test", choices=["train", "eval", "test"], help="which part of the split"
    )
    parser.add_argument(
        "--episodes", type=int, default=200, help="episodes per agent (goals taken in split order)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--nouns",
        default="auto",
        choices=["none", "heuristic", "spacy", "auto"],
        help="noun source of the type reward",
    )
    parser.add_argument(
        "--run-dir", default=None, help="output folder (default: runs/baselines-<time>)"
    )
    args = parser.parse_args(argv)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        parser.error(f"unknown policy {unknown[0]!r}; choose from {', '.join(POLICIES)}")

    folder = catalog_dir(args.data)
    data = build_store_data(folder, seed=args.seed)
    env = AgentEnv(WebShopStore.from_data(data, nouns=args.nouns))
    goals = split_goals(data.goals, args.split, seed=args.seed)[args.part][: args.episodes]
    print(
        f"catalog {folder}: {len(data.products)} products, {len(data.goals)} goals; "
        f"{len(goals)} {args.split}-split {args.part} goals"
    )
    results = {name: evaluate(env, name, goals, args.seed) for name in policies}

    run_dir = make_run_dir("baselines", args.run_dir)
    print(f"\n{'agent':>8} {'episodes':>8} {'success %':>18} {'score':>18} {'steps':>6}")
    for name, r in results.items():
        lo, hi = (100 * x for x in r["success_ci95"])
        print(
            f"{name:>8} {r['episodes']:>8} {100 * r['success_rate']:6.1f} [{lo:4.1f}, {hi:5.1f}] "
            f"{r['score']:6.1f} [{r['score_ci95'][0]:4.1f}, {r['score_ci95'][1]:5.1f}] {r['mean_steps']:6.1f}"
        )
    config = {k: v for k, v in vars(args).items()} | {"data": str(folder)}
    write_json(
        run_dir / "results.json",
        {"config": config, "machine": platform.platform(), "results": results},
    )
    plot(
        results,
        run_dir / "baselines.png",
        f"{Path(folder).name}: {args.split}-split {args.part} goals",
    )
    print(f"\nwrote {run_dir / 'results.json'} and {run_dir / 'baselines.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
