"""Held-out evaluation of a choice policy in the compiled store: success rate and score.

The policy becomes a `generate.Agent`, so evaluation is the same jit-compiled rollout
that generates trajectories; only the per-goal rewards are summarised, each figure with
its 95% interval.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from jaxrec.env import EnvState, StoreTables, TimeStep
from jaxrec.eval.stats import mean_interval, wilson_interval
from jaxrec.models.policy import ChoicePolicy, sample
from jaxrec.models.policy import greedy as most_likely
from jaxrec.train.generate import Agent, Chooser, rollout


@functools.cache
def policy_chooser(graphdef: nnx.GraphDef, *, greedy: bool = True) -> Chooser:
    """The chooser of every policy of one structure: its most likely offered action if
    `greedy`, else one drawn from it. Cached, so the compiled rollout is reused."""

    def choose(params: nnx.State, key: jax.Array, states: EnvState, timesteps: TimeStep):
        obs = timesteps.observation
        log_probs = nnx.merge(graphdef, params)(
            obs.state_ids, obs.state_mask, obs.action_ids, obs.action_token_mask, obs.action_mask
        ).log_probs
        return most_likely(log_probs) if greedy else sample(key, log_probs)

    return choose


def policy_agent(policy: ChoicePolicy, *, greedy: bool = True) -> Agent:
    """The policy as a batched agent holding a snapshot of its current parameters: later
    training does not change the agent, and a later snapshot reuses the compiled rollout."""
    graphdef, params = nnx.split(policy)
    return Agent(policy_chooser(graphdef, greedy=greedy), params)


def evaluate_policy(
    tables: StoreTables,
    agent: Agent,
    goal_indices: Sequence[int],
    key: jax.Array,
    *,
    max_steps: int | None = None,
) -> dict[str, Any]:
    """Success rate (reward exactly 1) and score (100 × mean reward) of one episode per goal.

    Returns `success`, `success_low`, `success_high`, `score`, `score_low`, `score_high`,
    `episodes` and `mean_steps` (actions taken, invalid choices excluded).
    """
    if not len(goal_indices):
        raise ValueError("evaluate_policy needs at least one goal")
    batch = rollout(tables, agent, goal_indices, key, max_steps=max_steps)
    # only the buying step is rewarded; -1 marks steps not taken
    return summarize(batch.reward.sum(axis=1), (batch.action >= 0).sum(axis=1))


def summarize(rewards: np.ndarray, steps: np.ndarray) -> dict[str, Any]:
    """Figures of episodes with final rewards `rewards` after `steps` actions each."""
    rewards = np.asarray(rewards, np.float64)
    episodes = len(rewards)
    wins = int((rewards == 1.0).sum())
    success_low, success_high = wilson_interval(wins, episodes)
    score, score_low, score_high = (100.0 * x for x in mean_interval(rewards.tolist()))
    return {
        "success": wins / episodes,
        "success_low": success_low,
        "success_high": success_high,
        "score": score,
        "score_low": score_low,
        "score_high": score_high,
        "episodes": episodes,
        "mean_steps": float(np.mean(steps)),
    }
