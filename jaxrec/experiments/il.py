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

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from jaxrec.data.cli import catalog_dir
from jaxrec.data.splits import split_goals
from jaxrec.data.store_data import build_store_data
from jaxrec.env import CompileConfig, StoreTables, compile_store
from jaxrec.eval.policy_eval import evaluate_policy, policy_agent
from jaxrec.experiments.config import add_config_arguments, config_from_args, save_config
from jaxrec.experiments.metrics import MetricsLog, plot_metrics
from jaxrec.experiments.run_dir import make_run_dir
from jaxrec.models.factory import make_policy
from jaxrec.models.policy import ChoicePolicy
from jaxrec.train.batching import encode_steps, take
from jaxrec.train.checkpoint import Checkpointer, restore_params
from jaxrec.train.demos import oracle_demonstrations
from jaxrec.train.imitation import imitation_step, make_optimizer
from jaxrec.webshop.agent_view import MAX_OFFERED, AgentEnv
from jaxrec.webshop.store import WebShopStore


@dataclass(frozen=True)
class ILConfig:
    """Everything that decides an imitation run; saved as the run's `config.json`."""

    data: str | None = None  # WebShop data folder; None: $JAXREC_WEBSHOP_DATA, else synthetic
    bert: str | None = None  # Hugging Face BERT folder; None: $JAXREC_BERT, else MiniLM
    tiny: bool = False  # a tiny random BERT instead of the pretrained one
    seed: int = 0
    train_goals: int = 500  # training goals whose oracle episodes are demonstrations
    eval_goals: int = 100  # held-out goals played at each evaluation
    steps: int = 2000
    batch: int = 8
    lr: float = 5e-5
    warmup: int = 100
    state_len: int = 512
    action_len: int = 128
    save_every: int = 500
    eval_every: int = 500
    keep: int = 3  # latest checkpoints kept (the best is kept as well)
    run_dir: str | None = None


def batch_rows(size: int, batch: int, seed: int, step: int) -> np.ndarray:
    """The demonstration rows of step `step`: epoch after epoch through a permutation seeded
    by (seed, epoch), so any step's batch is known without replaying the steps before it."""
    positions = step * batch + np.arange(batch)
    epochs = positions // size
    orders = {e: np.random.default_rng((seed, e)).permutation(size) for e in np.unique(epochs)}
    return np.array([orders[e][p % size] for e, p in zip(epochs, positions, strict=True)])


def evaluate(
    tables: StoreTables, policy: ChoicePolicy, goals: np.ndarray, seed: int
) -> dict[str, Any]:
    """Greedy play of the eval goals; the same key every time, so figures move only with the
    parameters."""
    return evaluate_policy(tables, policy_agent(policy), goals.tolist(), jax.random.PRNGKey(seed))


def train(config: ILConfig, *, resume: bool = False, init_from: str | None = None) -> Path:
    """Run (or resume) imitation learning; returns the run folder."""
    if resume and init_from:
        raise ValueError("--resume and --init-from exclude each other")
    if resume and not config.run_dir:
        raise ValueError("--resume needs --run-dir (the run folder to continue)")
    data = build_store_data(catalog_dir(config.data), seed=config.seed)
    split = split_goals(data.goals, "product", seed=config.seed)
    train_goals, eval_goals = (
        split["train"][: config.train_goals],
        split["eval"][: config.eval_goals],
    )
    env = AgentEnv(WebShopStore.from_data(data, nouns="none"))
    demos = oracle_demonstrations(env, train_goals, np.random.default_rng(config.seed))
    policy, tokenizer = make_policy(config.bert, tiny=config.tiny, seed=config.seed)
    demo_batch = encode_steps(
        tokenizer,
        demos,
        state_len=config.state_len,
        action_len=config.action_len,
        max_actions=MAX_OFFERED,
    )
    tables = compile_store(
        data, tokenizer, CompileConfig(state_len=config.state_len, action_len=config.action_len)
    )
    optimizer = make_optimizer(policy, config.lr, warmup=config.warmup)
    run_dir = make_run_dir("il", config.run_dir)
    save_config(run_dir, config)
    print(f"{len(demos)} demonstration steps from {len(train_goals)} goals; run folder {run_dir}")

    key = jax.random.PRNGKey(config.seed)
    start = 0
    with Checkpointer(run_dir, save_every=config.save_every, max_to_keep=config.keep) as ckpt:
        if resume:
            start = ckpt.restore(model=policy, optimizer=optimizer).data_position
            print(f"resumed from step {start}")
        elif init_from:
            directory, step = restore_params(init_from, policy)
            print(f"initialised from {directory} step {step}")
        before = evaluate(tables, policy, eval_goals, config.seed)
        with MetricsLog(run_dir, resume_step=start if resume else None) as log:
            if not resume:
                log.log(0, "eval", before)
            figures = before
            for step in tqdm(range(start + 1, config.steps + 1), desc="il", unit="step"):
                rows = batch_rows(len(demos), config.batch, config.seed, step - 1)
                loss = imitation_step(policy, optimizer, take(demo_batch, rows))
                log.log(step, "train", {"loss": float(loss)})
                evaluated = step % config.eval_every == 0 or step == config.steps
                if evaluated:
                    figures = evaluate(tables, policy, eval_goals, config.seed)
                    log.log(step, "eval", figures)
                ckpt.save(
                    step,
                    model=policy,
                    optimizer=optimizer,
                    rng_key=key,
                    data_position=step,
                    metrics={"success": figures["success"]} if evaluated else None,
                    force=step == config.steps,
                )
    plot_metrics(run_dir, run_dir / "curves.png", ["loss", "success", "score"], title="imitation")
    print(
        f"held-out success {before['success']:.1%} -> {figures['success']:.1%}, "
        f"score {before['score']:.1f} -> {figures['score']:.1f} ({figures['episodes']} goals)"
    )
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.il", description=__doc__.split("\n")[0]
    )
    add_config_arguments(parser, ILConfig)
    parser.add_argument(
        "--resume", action="store_true", help="continue from --run-dir's latest checkpoint"
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="RUN_OR_CHECKPOINT",
        help="start from another run's parameters (its best checkpoint, or a step folder)",
    )
    args = parser.parse_args(argv)
    train(config_from_args(args, ILConfig), resume=args.resume, init_from=args.init_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
