"""PPO's data: the policy samples episodes in the compiled store, GAE scores its decisions,
and the decisions taken become one fixed-size `PPOBatch`, all under one `jit`.

The rollout is `generate.record_rollout` (one `lax.scan` over steps, `vmap` over sessions)
with a chooser that samples the policy and records the log-prob and value of its choice.

- Rewards are multiplied by `PPOConfig.reward_scale` (WebShop's 10) before GAE; only the
  buying step is rewarded and it ends the episode (`done`), so nothing after it is
  bootstrapped.
- Truncation: a session not bought within `max_steps` bootstraps 0, not its last value.
  The step limit is part of the task (evaluation scores such an episode 0, as WebShop's
  env does), so 0 is that episode's true return, not an estimate.
- Fixed size: sessions buy after different numbers of steps, so the count of decisions
  varies; to compile `ppo_step` once, the decisions (steps a live session took) are
  shuffled and `batch_size` rows are read from the shuffled list with wrap-around. Fewer
  decisions than rows repeat each decision ⌊batch/decisions⌋ or one more times; more
  decisions than rows keep a random subset. No-op steps of finished sessions never enter.
- Advantages can be normalised (zero mean, unit deviation over the rollout's decisions).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from jaxrec.env import EnvState, StoreTables, TimeStep
from jaxrec.models.policy import ChoicePolicy, sample
from jaxrec.train.batching import policy_inputs
from jaxrec.train.gae import gae
from jaxrec.train.generate import Agent, Chooser, Trace, record_rollout
from jaxrec.train.losses import gold_log_probs
from jaxrec.train.ppo_update import PPOBatch, PPOConfig


class Choice(NamedTuple):
    """What the PPO chooser records of each step's choice."""

    log_prob: jax.Array  # (sessions,) float32 log π(slot | observation); -inf once done
    value: jax.Array  # (sessions,) float32 V(observation)


@functools.cache
def ppo_chooser(graphdef: nnx.GraphDef) -> Chooser:
    """The sampling chooser of every policy of one structure, recording a `Choice`. Cached,
    so each parameter snapshot reuses the compiled rollout."""

    def choose(params: nnx.State, key: jax.Array, states: EnvState, timesteps: TimeStep):
        out = nnx.merge(graphdef, params)(*policy_inputs(timesteps.observation))
        slot = sample(key, out.log_probs)
        return slot, Choice(gold_log_probs(out.log_probs, slot), out.values)

    return choose


def ppo_batch(
    trace: Trace, key: jax.Array, config: PPOConfig, *, batch_size: int, normalize: bool = False
) -> tuple[PPOBatch, dict[str, jax.Array]]:
    """A recorded rollout (aux: `Choice`) as a `PPOBatch` of `batch_size` decisions, and
    rollout statistics; see the module docstring for the choices made.

    Returns:
        The batch (no reference log-probs) and scalar stats: `reward` (mean unscaled episode
        reward), `success` (share with reward exactly 1), `bought`, `decisions`, and
        `advantage_std` (before any normalisation).
    """
    values = trace.aux.value  # (steps, sessions)
    advantages, returns = gae(
        trace.reward * config.reward_scale,
        values,
        trace.done,
        jnp.zeros_like(values[0]),  # truncation bootstraps 0
        config.gamma,
        config.lam,
    )
    taken = (trace.action >= 0).reshape(-1)  # (steps * sessions,)
    count = taken.sum()
    weight = taken.astype(jnp.float32)

    def flat(x: jax.Array) -> jax.Array:
        return x.reshape(-1, *x.shape[2:])

    advantages = flat(advantages)
    mean = jnp.sum(advantages * weight) / jnp.maximum(count, 1)
    std = jnp.sqrt(jnp.sum(jnp.square(advantages - mean) * weight) / jnp.maximum(count, 1))
    if normalize:
        advantages = (advantages - mean) / (std + 1e-8)

    # decisions first, in random order; then rows wrap around that list
    order = jnp.argsort(jnp.where(taken, jax.random.uniform(key, taken.shape), 2.0))
    rows = order[jnp.arange(batch_size) % jnp.maximum(count, 1)]

    def pick(x: jax.Array) -> jax.Array:
        return flat(x)[rows]

    obs = trace.observation
    batch = PPOBatch(
        state_ids=pick(obs.state_ids),
        state_mask=pick(obs.state_mask),
        action_ids=pick(obs.action_ids),
        action_token_mask=pick(obs.action_token_mask),
        action_mask=pick(obs.action_mask).astype(jnp.int32),
        actions=pick(trace.slot),
        old_log_probs=pick(trace.aux.log_prob),
        advantages=advantages[rows],
        returns=pick(returns),
    )
    episode_reward = trace.reward.sum(axis=0)  # only the buying step is rewarded
    stats = {
        "reward": episode_reward.mean(),
        "success": (episode_reward == 1.0).mean(),
        "bought": trace.done[-1].mean(),
        "decisions": count.astype(jnp.float32),
        "advantage_std": std,
    }
    return batch, stats


@functools.partial(
    jax.jit, static_argnames=("graphdef", "steps", "config", "batch_size", "normalize")
)
def _collect(
    tables: StoreTables,
    graphdef: nnx.GraphDef,
    params: nnx.State,
    reference: nnx.State | None,
    goals: jax.Array,
    key: jax.Array,
    steps: int,
    config: PPOConfig,
    batch_size: int,
    normalize: bool,
) -> tuple[PPOBatch, dict[str, jax.Array]]:
    rollout_key, rows_key = jax.random.split(key)
    agent = Agent(ppo_chooser(graphdef), params)
    trace = record_rollout(tables, agent, goals, rollout_key, max_steps=steps)
    batch, stats = ppo_batch(trace, rows_key, config, batch_size=batch_size, normalize=normalize)
    if reference is not None:
        ref = nnx.merge(graphdef, reference)(*policy_inputs(batch)).log_probs
        batch = batch._replace(ref_log_probs=jax.lax.stop_gradient(ref))
    return batch, stats


def collect(
    tables: StoreTables,
    policy: ChoicePolicy,
    goals: Sequence[int] | jax.Array,
    key: jax.Array,
    *,
    max_steps: int,
    config: PPOConfig,
    batch_size: int,
    normalize: bool = False,
    reference: nnx.State | None = None,
) -> tuple[PPOBatch, dict[str, float]]:
    """One rollout of `policy` (sampling) on `goals` in parallel, as a PPO batch.

    Args:
        tables: the compiled store.
        policy: the policy collecting the data (a snapshot of its parameters is used).
        goals: (sessions,) goal indices, one session each.
        key: randomness of the rollout and of the row selection.
        max_steps: the step limit; an episode not bought by then ends with reward 0.
        config: gamma, lam and reward_scale are read here.
        batch_size: rows of the returned batch (see the module docstring).
        normalize: normalise the advantages over the rollout's decisions.
        reference: parameters (`nnx.split(policy)[1]` of a frozen copy) whose log-probs
            fill `ref_log_probs`, for the KL term; None leaves it None.

    Returns:
        (batch of device arrays, stats as floats; see `ppo_batch`).
    """
    graphdef, params = nnx.split(policy)
    goals = jnp.asarray(goals, jnp.int32)
    batch, stats = _collect(
        tables, graphdef, params, reference, goals, key, max_steps, config, batch_size, normalize
    )
    return batch, {name: float(value) for name, value in jax.device_get(stats).items()}
