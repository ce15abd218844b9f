"""The paper's pipeline: imitation warm start, self-generated trajectories, then DPO.

    python -m jaxrec.experiments.dpo [--config FILE] [--init-from RUN] [--source generated]
                                     [--steps N] [--beta 0.1] [--resume --run-dir DIR]

1. Warm start: imitation on the oracle's demonstrations (`jaxrec.experiments.il`, run in
   `<run>/il`), unless `--init-from` names a run whose parameters to start from.
2. Preferred trajectories: the warm-started policy samples episodes on training goals it
   was not taught on, in parallel in the compiled store; those with reward exactly 1 are
   kept, loops pruned, at most `max_trajectories` (`--source oracle` takes the oracle's
   demonstrations instead). A warm start too weak to win any episode falls back to the
   oracle's episodes on the sampled goals, and says so (`--no-oracle-fallback` stops
   instead). Saved as `<run>/trajectories.jsonl`.
3. Pairs: at each decision of those trajectories the preferred action is the trajectory's
   and the rejected one is drawn from the frozen warm-started policy (the reference), whose
   log-probs are computed once. Saved as `<run>/pairs.npz`.
4. DPO on the pairs, evaluated on held-out goals against the rule baseline.

With no flags it runs on the embedded default (synthetic catalog + MiniLM) with sizes
chosen to finish in about ten minutes on two CPU cores; the real-catalog settings are in
BUILD_NOTES.md. `--resume` continues each stage where a killed run stopped.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrec.eval.policy_eval import policy_agent, summarize
from jaxrec.experiments import il
from jaxrec.experiments.metrics import plot_metrics, read_metrics
from jaxrec.experiments.run_dir import make_run_dir, write_json
from jaxrec.experiments.workspace import (
    RunConfig,
    Workspace,
    command_main,
    epoch_rows,
    init_policy,
    run_updates,
    start_run,
    summary,
)
from jaxrec.train.batching import ChoiceBatch, take
from jaxrec.train.checkpoint import CHECKPOINTS, restore_params
from jaxrec.train.dpo import dpo_step, reference_log_probs, rejected_actions
from jaxrec.train.generate import Agent, generate_trajectories, oracle_agent, oracle_tables
from jaxrec.train.imitation import make_optimizer
from jaxrec.train.losses import gold_log_probs
from jaxrec.train.trajectories import Source, Trajectory, choice_steps, read_jsonl, to_jsonl
from jaxrec.webshop.baselines import rule_policy, run_episode

IL_DIR, TRAJECTORIES, PAIRS, RESULTS = "il", "trajectories.jsonl", "pairs.npz", "results.json"


@dataclass(frozen=True)
class DPOConfig(RunConfig):
    """Everything that decides a DPO run. The defaults fit the embedded default on a
    two-core CPU: short token windows, few goals, few steps."""

    eval_goals: int = 40
    eval_max_steps: int = 10  # the oracle wins in at most 6 steps here, 9 on the real catalog
    state_len: int = 256
    action_len: int = 24
    eval_every: int = 1000
    save_every: int = 10
    # imitation warm start (skipped with --init-from)
    demo_goals: int = 100  # training goals whose oracle episodes are demonstrations
    il_steps: int = 40
    il_batch: int = 8
    il_lr: float = 2e-4
    # preferred trajectories
    source: Literal["generated", "oracle"] = "generated"
    gen_goals: int = 64  # training goals (past the demonstration goals) sampled once each
    max_trajectories: int = 100
    oracle_fallback: bool = True  # no self-generated win: prefer the oracle's episodes
    # DPO
    steps: int = 30
    batch: int = 8
    lr: float = 5e-5
    warmup: int = 0
    beta: float = 0.1


def warm_start(config: DPOConfig, ws: Workspace, run_dir: Path, resume: bool) -> dict | None:
    """Imitation in `<run>/il` (or `--init-from`); returns its last held-out figures."""
    if config.init_from:
        init_policy(ws.policy, config.init_from)
        return None
    il_dir = run_dir / IL_DIR
    il_config = il.ILConfig(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(RunConfig)}
        | {"run_dir": str(il_dir), "eval_every": config.il_steps, "save_every": config.il_steps},
        train_goals=config.demo_goals,
        steps=config.il_steps,
        batch=config.il_batch,
        lr=config.il_lr,
        warmup=0,
    )
    done = [r for r in _evals(il_dir) if r["step"] == config.il_steps]
    if resume and done:
        restore_params(il_dir, ws.policy)
        print(f"warm start: reusing {il_dir}")
    else:
        il.train(
            il_config,
            resume=resume and (il_dir / CHECKPOINTS).is_dir(),
            ws=ws,
            evaluate_first=False,
        )
    return _evals(il_dir)[-1]


def preferred_trajectories(config: DPOConfig, ws: Workspace, run_dir: Path) -> list[Trajectory]:
    """The trajectories DPO prefers (see the module docstring), saved for a resume."""
    path = run_dir / TRAJECTORIES
    if path.exists():
        return read_jsonl(path)
    train = ws.split["train"]
    oracle = oracle_agent(ws.tables, oracle_tables(ws.data))
    if config.source == "oracle":
        trajectories = _winners(config, ws, oracle, train[: config.demo_goals], "oracle")
    else:
        goals = train[config.demo_goals : config.demo_goals + config.gen_goals]
        trajectories = _winners(
            config, ws, policy_agent(ws.policy, greedy=False), goals, "generated"
        )
        if not trajectories and config.oracle_fallback:
            print("no self-generated episode won: preferring the oracle's on the same goals")
            trajectories = _winners(config, ws, oracle, goals, "oracle")
    if not trajectories:
        raise RuntimeError(
            f"no {config.source} episode reached reward 1, so DPO has nothing to prefer: train "
            "the warm start longer (--il-steps), sample more goals (--gen-goals), or allow "
            "--oracle-fallback"
        )
    trajectories = trajectories[: config.max_trajectories]
    to_jsonl(trajectories, path)
    return trajectories


def _winners(
    config: DPOConfig, ws: Workspace, agent: Agent, goals: list[int], source: Source
) -> list[Trajectory]:
    """The agent's episodes on the goals that reached reward 1, loops pruned."""
    trajectories = generate_trajectories(
        ws.tables,
        ws.env,
        agent,
        goals,
        jax.random.PRNGKey(config.seed + 1),
        max_steps=config.eval_max_steps,
        source=source,
    )
    print(f"{source}: {len(trajectories)} of {len(goals)} episodes reached reward 1")
    return trajectories


def preference_pairs(
    config: DPOConfig, ws: Workspace, run_dir: Path, batch: ChoiceBatch
) -> dict[str, np.ndarray]:
    """Rejected actions and reference log-probs of every decision, computed once with the
    current (reference) policy in fixed-size chunks, and saved for a resume."""
    path = run_dir / PAIRS
    if path.exists():
        with np.load(path) as saved:
            return dict(saved)
    size = len(batch.gold)
    chunks = []
    for start in range(0, size, config.batch):
        rows = np.arange(start, start + config.batch) % size  # the last chunk wraps around
        chunks.append(np.asarray(reference_log_probs(ws.policy, take(batch, rows))))
    ref = jnp.asarray(np.concatenate(chunks)[:size])
    gold = jnp.asarray(batch.gold)
    rejected, usable = rejected_actions(jax.random.PRNGKey(config.seed + 2), ref, gold)
    pairs = {
        "rejected": np.asarray(rejected),
        "usable": np.asarray(usable, np.float32),
        "ref_chosen": np.asarray(gold_log_probs(ref, gold)),
        "ref_rejected": np.asarray(gold_log_probs(ref, rejected)),
    }
    np.savez(path, **pairs)
    return pairs


def rule_figures(ws: Workspace) -> dict[str, Any]:
    """WebShop's rule baseline (search the instruction, buy the first result) on the same
    held-out goals, in the reference store."""
    rng = np.random.default_rng(ws.config.seed)
    episodes = [run_episode(ws.env, rule_policy, g, rng) for g in ws.eval_goals]
    return summarize(np.array([e.reward for e in episodes]), np.array([e.steps for e in episodes]))


def train(config: DPOConfig, *, resume: bool = False) -> Path:
    """Run (or resume) the whole pipeline; returns the run folder."""
    if resume and not config.run_dir:
        raise ValueError("--resume needs --run-dir (the run folder to continue)")
    run_dir = make_run_dir("dpo", config.run_dir)
    start_run(config, run_dir, resume=resume)
    print(f"run folder {run_dir}")
    seconds, lap = {}, _stopwatch()
    ws = Workspace.build(config)
    seconds["setup"] = lap()
    warm = warm_start(config, ws, run_dir, resume)
    seconds["warm_start"] = lap()
    trajectories = preferred_trajectories(config, ws, run_dir)
    steps = choice_steps(ws.env, trajectories, np.random.default_rng(config.seed))
    batch = ws.encode(steps)
    pairs = preference_pairs(config, ws, run_dir, batch)
    seconds["trajectories_and_pairs"] = lap()
    sources = sorted({t.source for t in trajectories})
    print(
        f"{len(steps)} preference pairs from {len(trajectories)} {'/'.join(sources)} trajectories"
    )

    optimizer = make_optimizer(ws.policy, config.lr, warmup=config.warmup)
    beta = jnp.float32(config.beta)

    def update(step: int) -> dict[str, float]:
        rows = epoch_rows(len(steps), config.batch, config.seed, step - 1)
        rejected, ref_chosen, ref_rejected, usable = ws.shard(
            tuple(pairs[k][rows] for k in ("rejected", "ref_chosen", "ref_rejected", "usable"))
        )
        metrics = dpo_step(
            ws.policy,
            optimizer,
            ws.shard(take(batch, rows)),
            rejected,
            ref_chosen,
            ref_rejected,
            beta,
            usable,
        )
        return {k: float(v) for k, v in metrics.items()}

    before, after = run_updates(
        ws,
        config,
        optimizer,
        run_dir,
        name="dpo",
        steps=config.steps,
        update=update,
        resume=resume and (run_dir / CHECKPOINTS).is_dir(),
        evaluate_first=warm is None,
    )
    before = warm or before
    seconds["dpo"] = lap()
    rule = rule_figures(ws)
    plot_metrics(
        run_dir,
        run_dir / "curves.png",
        ["loss", "accuracy", "margin", "success", "score"],
        title="DPO",
    )
    results = {
        "rule": rule,
        "warm_start": before,
        "dpo": after,
        "trajectories": len(trajectories),
        "sources": sources,
        "pairs": len(steps),
        "seconds": seconds | {"total": sum(seconds.values())},
    }
    write_json(run_dir / RESULTS, results)
    print(f"rule baseline: {summary(None, rule)}")
    print(f"warm start -> DPO: {summary(before, after)}")
    return run_dir


def _stopwatch() -> Callable[[], float]:
    """A function giving the seconds since its previous call (or its creation)."""
    marks = [time.perf_counter()]

    def lap() -> float:
        marks.append(time.perf_counter())
        return round(marks[-1] - marks[-2], 1)

    return lap


def _evals(run_dir: Path) -> list[dict[str, Any]]:
    """The evaluations a run has logged so far (none if it has not started)."""
    if not (run_dir / "metrics.jsonl").exists():
        return []
    return [r for r in read_metrics(run_dir) if r["split"] == "eval"]


def main(argv: list[str] | None = None) -> int:
    return command_main("dpo", __doc__, DPOConfig, train, argv)


if __name__ == "__main__":
    sys.exit(main())
