"""Compare agents online by Thompson sampling, many shopping sessions at a time.

    python -m jaxrec.experiments.evaluate [--config FILE] [--arms rule,random,oracle,runs/il-x]
        [--rollouts 1000] [--sessions 100] [--runs 3] [--mode thompson|fixed]
        [--threshold 0.99] [--split test] [--tiny] [--run-dir DIR]

The paper's evaluator (1,000 sequential rollouts, each picking an agent by Thompson
sampling) run in rounds of `sessions` parallel episodes on the compiled store
(`jaxrec.eval.online`), `runs` independent times. Arms: `rule`, `random`, `oracle`, `bert`
(the untrained policy; tiny with `--tiny`) and any run folder or checkpoint (played on
this command's store: its `--state-len` and `--action-len`, not the training run's). Writes
`config.json`, `report.json` (per arm, per run and pooled over runs), `rounds.jsonl`
(running figures after each round), `running.png` (running success rate and score per arm
against rollouts, one line per run, as in the paper) and `posteriors.png` (posterior
densities of the pooled episodes) into the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jax
import numpy as np
from tqdm import tqdm

from jaxrec.data.cli import catalog_dir
from jaxrec.data.splits import split_goals
from jaxrec.data.store_data import build_store_data
from jaxrec.env import CompileConfig, compile_store
from jaxrec.eval.arms import make_arms, mix
from jaxrec.eval.online import (
    OnlineRun,
    posterior_of,
    report,
    round_size,
    run_online,
    running_figures,
)
from jaxrec.eval.thompson import Metric, Mode
from jaxrec.experiments.config import add_config_arguments, config_from_args, save_config
from jaxrec.experiments.run_dir import make_run_dir, write_json
from jaxrec.models.tokenizer import WEBSHOP_TOKENS, WebShopTokenizer
from jaxrec.models.weights import default_bert_dir

ROUNDS_FILE = "rounds.jsonl"


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything that decides an evaluation; saved as the run's `config.json`."""

    arms: tuple[str, ...] = ("rule", "random", "oracle")  # built-ins or run folders
    rollouts: int = 1000  # episodes per run (whole rounds)
    sessions: int = 100  # B: episodes played in parallel per round
    runs: int = 3  # independent runs (the paper's plots show three)
    mode: Mode = "thompson"  # fixed: every arm on the same goals (the control)
    metric: Metric = "success"  # what Thompson sampling and "best" refer to
    threshold: float | None = None  # stop a run once an arm's P(best) passes it
    split: Literal["train", "eval", "test"] = "test"  # product-held-out split
    seed: int = 0
    max_steps: int = 15  # agent actions before truncation
    greedy: bool = True  # policy arms take their most likely action
    tiny: bool = False  # the `bert` arm is a tiny random encoder
    bert: str | None = None  # BERT folder of the `bert` arm and the tokenizer
    data: str | None = None  # WebShop data folder; None: $JAXREC_WEBSHOP_DATA, else synthetic
    state_len: int = 512
    action_len: int = 128
    draws: int = 4000  # Monte Carlo draws of P(best)
    run_dir: str | None = None


def evaluate(config: EvaluateConfig) -> Path:
    """Run the evaluation; returns the run folder."""
    data = build_store_data(catalog_dir(config.data), seed=config.seed)
    goals = split_goals(data.goals, "product", seed=config.seed)[config.split]
    tokenizer = WebShopTokenizer.from_folder(
        config.bert or default_bert_dir(), extra_tokens=WEBSHOP_TOKENS
    )
    tables = compile_store(
        data,
        tokenizer,
        CompileConfig(
            state_len=config.state_len, action_len=config.action_len, max_steps=config.max_steps
        ),
    )
    arm_set = mix(
        make_arms(
            config.arms,
            tables,
            data,
            tokenizer,
            tiny=config.tiny,
            greedy=config.greedy,
            seed=config.seed,
            bert=config.bert,
        )
    )
    run_dir = make_run_dir("evaluate", config.run_dir)
    save_config(run_dir, config)
    print(f"{len(config.arms)} arms on {len(goals)} {config.split} goals; run folder {run_dir}")

    run_key, report_key = jax.random.split(jax.random.PRNGKey(config.seed))
    runs: list[OnlineRun] = []
    rows = []
    size = round_size(len(config.arms), config.sessions, config.mode)
    total = -(-config.rollouts // size) * size  # whole rounds
    for r in range(config.runs):
        with tqdm(total=total, desc=f"evaluate run {r}", unit="episode") as bar:
            run = run_online(
                tables,
                arm_set,
                goals,
                jax.random.fold_in(run_key, r),
                rollouts=config.rollouts,
                sessions=config.sessions,
                mode=config.mode,
                metric=config.metric,
                threshold=config.threshold,
                draws=config.draws,
                on_round=bar.update,
            )
        runs.append(run)
        rows += _round_rows(r, run)

    names = arm_set.names
    summaries = [
        report(
            names,
            run.arm,
            run.reward,
            run.steps,
            jax.random.fold_in(report_key, r),
            metric=config.metric,
            draws=config.draws,
        )
        | {"stopped": run.stopped}
        for r, run in enumerate(runs)
    ]
    arm = np.concatenate([run.arm for run in runs])
    reward = np.concatenate([run.reward for run in runs])
    steps = np.concatenate([run.steps for run in runs])
    pooled = report(
        names,
        arm,
        reward,
        steps,
        jax.random.fold_in(report_key, config.runs),
        metric=config.metric,
        draws=config.draws,
    )
    write_json(run_dir / "report.json", {"pooled": pooled, "runs": summaries})
    (run_dir / ROUNDS_FILE).write_text("".join(json.dumps(row) + "\n" for row in rows))
    plot_running(runs, run_dir / "running.png", config.mode)
    plot_posteriors(names, arm, reward, run_dir / "posteriors.png")
    _print_table(pooled)
    return run_dir


def _round_rows(r: int, run: OnlineRun) -> list[dict]:
    """One `rounds.jsonl` line per round: running figures per arm."""
    figures = running_figures(run)
    rows = []
    for i, rollouts in enumerate(figures["rollouts"].tolist()):
        per_arm = {
            name: {
                "episodes": int(figures["episodes"][i, a]),
                "success": _finite(figures["success"][i, a]),
                "score": _finite(figures["score"][i, a]),
                "prob_best": float(run.prob_best[i, a]),
            }
            for a, name in enumerate(run.names)
        }
        rows.append(
            {
                "run": r,
                "round": i + 1,
                "rollouts": rollouts,
                "regret": float(figures["regret"][i]),
                "arms": per_arm,
            }
        )
    return rows


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _print_table(pooled: dict) -> None:
    print(
        f"{'arm':<24} {'episodes':>8} {'success % (95% CI)':>22} {'score (95% CI)':>22} "
        f"{'P(best)':>8} {'traffic':>8}"
    )
    for name, a in pooled["arms"].items():
        if a["episodes"]:
            success = f"{100 * a['success']:.1f} ({100 * a['success_low']:.1f}-{100 * a['success_high']:.1f})"
            score = f"{a['score']:.1f} ({a['score_low']:.1f}-{a['score_high']:.1f})"
        else:
            success = score = "-"
        print(
            f"{name[-24:]:<24} {a['episodes']:>8} {success:>22} {score:>22} "
            f"{a['prob_best']:>8.3f} {a['traffic']:>8.1%}"
        )
    print(
        f"best: {pooled['best']}; cumulative regret {pooled['cumulative_regret']:.1f} successes "
        f"over {pooled['episodes']} episodes"
    )


def plot_running(runs: list[OnlineRun], path: Path, mode: str) -> Path:
    """Running success rate and score per arm against rollouts, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r, run in enumerate(runs):
        figures = running_figures(run)
        for a, name in enumerate(run.names):
            style = dict(
                color=colors[a % len(colors)],
                alpha=0.8,
                lw=1.2,
                ls=("-", "--", ":", "-.")[r % 4],
                label=name if r == 0 else None,
            )
            axes[0].plot(figures["rollouts"], 100 * figures["success"][:, a], **style)
            axes[1].plot(figures["rollouts"], figures["score"][:, a], **style)
    for ax, label in zip(axes, ("success rate (%)", "score"), strict=True):
        ax.set_xlabel("rollouts")
        ax.set_ylabel(f"running {label}")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"{mode} evaluation: {len(runs)} independent runs (line style per run)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_posteriors(
    names: tuple[str, ...], arm: np.ndarray, reward: np.ndarray, path: Path
) -> Path:
    """Beta posterior densities of each arm's success rate and mean score (pooled runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import beta

    posterior = posterior_of(len(names), arm, reward)
    grid = np.linspace(0.0005, 0.9995, 1000)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("success", "score"), strict=True):
        alpha, b = (np.asarray(x) for x in posterior.params(metric))
        for a, name in enumerate(names):
            ax.plot(100 * grid, beta.pdf(grid, alpha[a], b[a]) / 100, label=name)
        ax.set_xlabel(f"{'success rate (%)' if metric == 'success' else 'mean score'}")
        ax.set_ylabel("posterior density")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle("posteriors after all runs' episodes (score: Beta with fractional updates)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.evaluate", description=__doc__.split("\n")[0]
    )
    add_config_arguments(parser, EvaluateConfig)
    evaluate(config_from_args(parser.parse_args(argv), EvaluateConfig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
