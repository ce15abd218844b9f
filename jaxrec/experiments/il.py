"""Imitation learning on oracle demonstrations, evaluated by playing held-out goals.

    python -m jaxrec.experiments.il [--config FILE] [--tiny] [--steps 2000] [--resume]
                                    [--init-from RUN_OR_CHECKPOINT] [--run-dir DIR]

Splits the catalog by product, collects the reference oracle's successful episodes on
training goals, and fine-tunes WebShop's choice policy with cross-entropy on the gold
action. Every `eval_every` steps (and at the start and end) the greedy policy plays the
held-out eval goals in the compiled store; its success rate ranks the checkpoints. The
batch of step `s` depends only on (seed, s), so `--resume` continues exactly where the
killed run would have gone. Writes `config.json`, `metrics.jsonl`, `curves.png` and
`checkpoints/` into the run folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxrec.experiments.metrics import plot_metrics
from jaxrec.experiments.run_dir import make_run_dir
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
from jaxrec.train.batching import take
from jaxrec.train.demos import oracle_demonstrations
from jaxrec.train.imitation import imitation_step, make_optimizer


@dataclass(frozen=True)
class ILConfig(RunConfig):
    """Everything that decides an imitation run; saved as the run's `config.json`."""

    train_goals: int = 500  # training goals whose oracle episodes are demonstrations
    steps: int = 2000
    batch: int = 8
    lr: float = 5e-5
    warmup: int = 100


def train(
    config: ILConfig,
    *,
    resume: bool = False,
    ws: Workspace | None = None,
    evaluate_first: bool = True,
) -> Path:
    """Run (or resume) imitation learning; returns the run folder.

    A caller that already built a `Workspace` for this config's catalog and model (the
    `dpo` pipeline) passes it as `ws`; its policy is trained in place.
    """
    if resume and config.init_from:
        raise ValueError("--resume and --init-from exclude each other")
    if resume and not config.run_dir:
        raise ValueError("--resume needs --run-dir (the run folder to continue)")
    run_dir = make_run_dir("il", config.run_dir)
    start_run(config, run_dir, resume=resume)
    ws = ws or Workspace.build(config)
    train_goals = ws.split["train"][: config.train_goals]
    demos = oracle_demonstrations(ws.env, train_goals, np.random.default_rng(config.seed))
    demo_batch = ws.encode(demos)
    optimizer = make_optimizer(ws.policy, config.lr, warmup=config.warmup)
    print(f"{len(demos)} demonstration steps from {len(train_goals)} goals; run folder {run_dir}")
    if not resume:
        init_policy(ws.policy, config.init_from)

    def update(step: int) -> dict[str, float]:
        rows = epoch_rows(len(demos), config.batch, config.seed, step - 1)
        return {
            "loss": float(imitation_step(ws.policy, optimizer, ws.shard(take(demo_batch, rows))))
        }

    before, after = run_updates(
        ws,
        config,
        optimizer,
        run_dir,
        name="il",
        steps=config.steps,
        update=update,
        resume=resume,
        evaluate_first=evaluate_first,
    )
    plot_metrics(run_dir, run_dir / "curves.png", ["loss", "success", "score"], title="imitation")
    print(summary(before, after))
    return run_dir


def main(argv: list[str] | None = None) -> int:
    return command_main("il", __doc__, ILConfig, train, argv)


if __name__ == "__main__":
    sys.exit(main())
