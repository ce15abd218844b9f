"""PPO in the compiled store: sample episodes on training goals, then clipped PPO epochs.

    python -m jaxrec.experiments.ppo [--config FILE] [--tiny] [--steps 30] [--sessions 8]
                                     [--init-from RUN_OR_CHECKPOINT] [--resume --run-dir DIR]

Each iteration (a `step` of the run) plays `sessions` training goals in parallel with the
sampling policy (one jit'd `lax.scan` over steps, `vmap` over sessions), scores its
decisions by GAE (γ, λ; λ = 1 is WebShop's A = R − V, rewards × `reward_scale`), and takes
`epochs` passes of `minibatches` optimiser steps on WebShop's RL loss with PPO's clipped
surrogate, value loss, entropy bonus and, with `kl_coef`, a KL term to the starting
policy. Iteration `s`'s goals and keys depend only on (seed, s), so `--resume` continues
a killed run exactly. `--init-from` starts from another run's parameters (an `il` run,
say), which are also the KL reference. Held-out goals are played greedily every
`eval_every` iterations. Writes `config.json`, `metrics.jsonl`, `curves.png`,
`results.json` and `checkpoints/` into the run folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from jaxrec.experiments.metrics import plot_metrics
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
from jaxrec.train.checkpoint import CHECKPOINTS
from jaxrec.train.imitation import make_optimizer
from jaxrec.train.ppo_rollout import collect
from jaxrec.train.ppo_update import PPOConfig, ppo_epochs


@dataclass(frozen=True)
class PPOCommandConfig(RunConfig):
    """Everything that decides a PPO run. The defaults fit the embedded default (synthetic
    catalog, MiniLM) on a two-core CPU: short token windows, few sessions, few iterations."""

    eval_goals: int = 40
    eval_max_steps: int = 10  # the oracle wins in at most 6 steps here, 9 on the real catalog
    state_len: int = 256
    action_len: int = 24
    eval_every: int = 10
    save_every: int = 5
    steps: int = 30  # iterations: one rollout and its PPO epochs each
    sessions: int = 8  # training goals played in parallel per rollout
    max_steps: int = 15  # an episode not bought by then ends with reward 0
    batch: int = 64  # decisions per rollout update (sampled or repeated to this size)
    minibatches: int = 4
    epochs: int = 2
    lr: float = 1e-5  # WebShop's RL learning rate
    warmup: int = 0  # optimiser steps of linear warm-up
    grad_clip: float = 10.0  # WebShop's global-norm clip
    clip_eps: float = 0.2
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    kl_coef: float = 0.0  # KL(π ‖ starting policy)
    gamma: float = 0.9  # WebShop's discount
    lam: float = 1.0  # 1: WebShop's A = R - V
    reward_scale: float = 10.0  # WebShop multiplies rewards by 10
    normalize_advantages: bool = False

    def ppo(self) -> PPOConfig:
        """The update's hyper-parameters."""
        return PPOConfig(
            clip_eps=self.clip_eps,
            vf_coef=self.vf_coef,
            ent_coef=self.ent_coef,
            kl_coef=self.kl_coef,
            epochs=self.epochs,
            minibatches=self.minibatches,
            gamma=self.gamma,
            lam=self.lam,
            reward_scale=self.reward_scale,
        )


def train(config: PPOCommandConfig, *, resume: bool = False) -> Path:
    """Run (or resume) PPO; returns the run folder."""
    if resume and not config.run_dir:
        raise ValueError("--resume needs --run-dir (the run folder to continue)")
    if config.batch % config.minibatches:
        raise ValueError(f"--batch {config.batch} does not split into {config.minibatches}")
    run_dir = make_run_dir("ppo", config.run_dir)
    start_run(config, run_dir, resume=resume)
    print(f"run folder {run_dir}")
    ws = Workspace.build(config)
    resume = resume and (run_dir / CHECKPOINTS).is_dir()
    # a resume restores the trained parameters over these, but the KL reference is the start
    if not resume or config.kl_coef:
        init_policy(ws.policy, config.init_from)
    reference = nnx.split(ws.policy)[1] if config.kl_coef else None
    optimizer = make_optimizer(ws.policy, config.lr, warmup=config.warmup, clip=config.grad_clip)
    ppo = config.ppo()
    train_goals = np.asarray(ws.split["train"])
    seed_key = jax.random.PRNGKey(config.seed)

    def update(step: int) -> dict[str, float]:
        goals = train_goals[epoch_rows(len(train_goals), config.sessions, config.seed, step - 1)]
        collect_key, update_key = jax.random.split(jax.random.fold_in(seed_key, step))
        batch, stats = collect(
            ws.tables,
            ws.policy,
            goals,
            collect_key,
            max_steps=config.max_steps,
            config=ppo,
            batch_size=config.batch,
            normalize=config.normalize_advantages,
            reference=reference,
        )
        history = ppo_epochs(ws.policy, optimizer, ws.shard(batch), update_key, ppo)
        means = {name: float(np.mean(values)) for name, values in history.items()}
        return means | {f"rollout_{name}": value for name, value in stats.items()}

    before, after = run_updates(
        ws, config, optimizer, run_dir, name="ppo", steps=config.steps, update=update, resume=resume
    )
    plot_metrics(
        run_dir,
        run_dir / "curves.png",
        ["loss", "value_loss", "entropy", "rollout_reward", "success", "score"],
        title="PPO",
    )
    write_json(run_dir / "results.json", {"start": before, "ppo": after})
    print(summary(before, after))
    return run_dir


def main(argv: list[str] | None = None) -> int:
    return command_main("ppo", __doc__, PPOCommandConfig, train, argv)


if __name__ == "__main__":
    sys.exit(main())
