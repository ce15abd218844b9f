"""What every training command builds from its config, and the loop they share.

A `Workspace` holds the catalog and its product split, the reference and compiled stores,
the policy and its tokenizer, and the device mesh training runs on (data-parallel over
every device; one device is the same code). `run_updates` is the loop around any update: progress bar,
`metrics.jsonl`, periodic held-out evaluation, orbax checkpoints, and exact resume (each
command makes step `s`'s batch a function of (seed, s) only).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from tqdm import tqdm

from jaxrec.data.cli import catalog_dir
from jaxrec.data.splits import split_goals
from jaxrec.data.store_data import StoreData, build_store_data
from jaxrec.env import CompileConfig, StoreTables, compile_store
from jaxrec.eval.policy_eval import evaluate_policy, policy_agent
from jaxrec.experiments.config import (
    C,
    ConfigError,
    add_config_arguments,
    config_from_args,
    load_config,
    save_config,
)
from jaxrec.experiments.metrics import MetricsLog, read_metrics
from jaxrec.models.factory import make_policy
from jaxrec.models.policy import ChoicePolicy
from jaxrec.models.tokenizer import WebShopTokenizer
from jaxrec.train.batching import ChoiceBatch, encode_steps
from jaxrec.train.checkpoint import Checkpointer, restore_params
from jaxrec.train.demos import ChoiceStep
from jaxrec.train.parallel import Batch, data_mesh, place, shard_batch
from jaxrec.webshop.agent_view import MAX_OFFERED, AgentEnv
from jaxrec.webshop.store import WebShopStore


@dataclass(frozen=True)
class RunConfig:
    """The fields every training command shares; each command's config extends it."""

    data: str | None = None  # WebShop data folder; None: $JAXREC_WEBSHOP_DATA, else synthetic
    bert: str | None = None  # Hugging Face BERT folder; None: $JAXREC_BERT, else MiniLM
    tiny: bool = False  # a tiny random BERT instead of the pretrained one
    init_from: str | None = None  # start from another run's parameters (run or step folder)
    seed: int = 0
    eval_goals: int = 100  # held-out goals played at each evaluation
    eval_max_steps: int = 100  # an episode not bought by then scores 0
    state_len: int = 512
    action_len: int = 128
    save_every: int = 500
    eval_every: int = 500
    keep: int = 3  # latest checkpoints kept (the best is kept as well)
    run_dir: str | None = None


@dataclass
class Workspace:
    """The objects a command trains and evaluates with, built once from its config."""

    config: RunConfig
    data: StoreData
    split: dict[str, list[int]]
    env: AgentEnv
    policy: ChoicePolicy
    tokenizer: WebShopTokenizer
    tables: StoreTables
    mesh: Mesh  # every device: parameters replicated, batches split (`jaxrec.train.parallel`)

    @classmethod
    def build(cls, config: RunConfig) -> Workspace:
        data = build_store_data(catalog_dir(config.data), seed=config.seed)
        policy, tokenizer = make_policy(config.bert, tiny=config.tiny, seed=config.seed)
        tables = compile_store(
            data, tokenizer, CompileConfig(state_len=config.state_len, action_len=config.action_len)
        )
        return cls(
            config=config,
            data=data,
            split=split_goals(data.goals, "product", seed=config.seed),
            env=AgentEnv(WebShopStore.from_data(data, nouns="none")),
            policy=policy,
            tokenizer=tokenizer,
            tables=tables,
            mesh=data_mesh(),
        )

    @property
    def eval_goals(self) -> list[int]:
        """Held-out goals whose products never appear in training."""
        return self.split["eval"][: self.config.eval_goals]

    def encode(self, steps: Sequence[ChoiceStep]) -> ChoiceBatch:
        """Decisions as the padded token arrays the policy reads."""
        return encode_steps(
            self.tokenizer,
            steps,
            state_len=self.config.state_len,
            action_len=self.config.action_len,
            max_actions=MAX_OFFERED,
        )

    def shard(self, batch: Batch) -> Batch:
        """A training batch split over the workspace's devices (1 or N: the same code)."""
        return shard_batch(batch, self.mesh)

    def evaluate(self) -> dict[str, Any]:
        """Greedy play of the eval goals in the compiled store; the same key every time, so
        the figures move only with the parameters."""
        return evaluate_policy(
            self.tables,
            policy_agent(self.policy),
            self.eval_goals,
            jax.random.PRNGKey(self.config.seed),
            max_steps=self.config.eval_max_steps,
        )


def epoch_rows(size: int, batch: int, seed: int, step: int) -> np.ndarray:
    """The data rows of step `step`: epoch after epoch through a permutation seeded by
    (seed, epoch), so any step's batch is known without replaying the steps before it."""
    positions = step * batch + np.arange(batch)
    epochs = positions // size
    orders = {e: np.random.default_rng((seed, e)).permutation(size) for e in np.unique(epochs)}
    return np.array([orders[e][p % size] for e, p in zip(epochs, positions, strict=True)])


def start_run(config: RunConfig, run_dir: Path, *, resume: bool) -> None:
    """Write the run's `config.json`; a resume must use the saved config (more steps aside)."""
    if resume:
        saved = load_config(run_dir, type(config))
        changed = [
            f.name
            for f in dataclasses.fields(config)
            if f.name != "steps" and getattr(saved, f.name) != getattr(config, f.name)
        ]
        if changed:
            raise ConfigError(
                f"--resume of {run_dir} with a different {', '.join(changed)} than its "
                "config.json; resume with the same config (only --steps may grow)"
            )
    save_config(run_dir, config)


def init_policy(policy: ChoicePolicy, init_from: str | None) -> None:
    """Load another run's parameters into `policy` when `init_from` names one."""
    if init_from:
        directory, step = restore_params(init_from, policy)
        print(f"initialised from {directory} step {step}")


def run_updates(
    ws: Workspace,
    config: RunConfig,
    optimizer: nnx.Optimizer,
    run_dir: Path,
    *,
    name: str,
    steps: int,
    update: Callable[[int], dict[str, float]],
    resume: bool,
    evaluate_first: bool = True,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Call `update(step)` for steps 1..`steps` (from the last checkpoint with `resume`),
    logging its metrics, evaluating at step 0 (if `evaluate_first`), every `eval_every`
    steps and at the end, checkpointing every `save_every` steps and at the end.

    `config` is the running command's (a pipeline's stages share one workspace but save
    and evaluate on their own schedules). Returns the first and the last evaluation (a
    resumed run reads those it already made).
    """
    start, before, figures = 0, None, None
    place(ws.policy, optimizer, ws.mesh)
    with Checkpointer(run_dir, save_every=config.save_every, max_to_keep=config.keep) as ckpt:
        if resume:
            start = ckpt.restore(model=ws.policy, optimizer=optimizer).data_position
            print(f"resumed from step {start}")
            made = [r for r in read_metrics(run_dir) if r["split"] == "eval" and r["step"] <= start]
            before, figures = (made[0], made[-1]) if made else (None, None)
        elif evaluate_first:
            before = figures = ws.evaluate()
        with MetricsLog(run_dir, resume_step=start if resume else None) as log:
            if before is not None and not resume:
                log.log(0, "eval", before)
            for step in tqdm(range(start + 1, steps + 1), desc=name, unit="step"):
                log.log(step, "train", update(step))
                evaluated = step % config.eval_every == 0 or step == steps
                if evaluated:
                    figures = ws.evaluate()
                    log.log(step, "eval", figures)
                ckpt.save(
                    step,
                    model=ws.policy,
                    optimizer=optimizer,
                    rng_key=jax.random.PRNGKey(config.seed),
                    data_position=step,
                    metrics={"success": figures["success"]} if evaluated else None,
                    force=step == steps,
                )
    if figures is None:  # nothing left to run and nothing evaluated before
        figures = ws.evaluate()
    return before, figures


def summary(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """One line of held-out figures: `held-out success 1.0% -> 5.0%, score 40.1 -> 52.3`."""

    def change(key: str, form: str) -> str:
        return (f"{before[key]:{form}} -> " if before else "") + f"{after[key]:{form}}"

    return (
        f"held-out success {change('success', '.1%')}, score {change('score', '.1f')} "
        f"({after['episodes']:.0f} goals)"
    )


def command_main(
    name: str,
    doc: str,
    config_class: type[C],
    train: Callable[..., Path],
    argv: list[str] | None,
) -> int:
    """The command line of a training command: its config's flags, `--config FILE` and
    `--resume`, then `train(config, resume=...)`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m jaxrec.experiments.{name}", description=doc.split("\n")[0]
    )
    add_config_arguments(parser, config_class)
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir where it stopped"
    )
    args = parser.parse_args(argv)
    train(config_from_args(args, config_class), resume=args.resume)
    return 0
