"""PPO's rollout: what it records, GAE targets by hand, fixed-size batches of live decisions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxrec.env import CompileConfig, Observation, StoreTables, compile_store, observe, reset, step
from jaxrec.train import ppo_rollout
from jaxrec.train.batching import policy_inputs
from jaxrec.train.generate import Agent, Trace, record_rollout, rollout
from jaxrec.train.ppo_rollout import Choice, collect, ppo_batch, ppo_chooser
from jaxrec.train.ppo_update import PPOConfig

STEPS, GOALS = 4, [0, 3, 5]


@pytest.fixture(scope="module")
def tables(synthetic, tokenizer, tmp_path_factory) -> StoreTables:
    config = CompileConfig(state_len=48, action_len=10, max_steps=STEPS)
    return compile_store(synthetic, tokenizer, config, cache_dir=tmp_path_factory.mktemp("env"))


def test_recorded_observations_and_log_probs(tables, policy):
    graphdef, params = nnx.split(policy)
    agent = Agent(ppo_chooser(graphdef), params)
    goals, key = jnp.asarray(GOALS, jnp.int32), jax.random.PRNGKey(2)
    trace = record_rollout(tables, agent, goals, key, max_steps=STEPS)
    assert trace.slot.shape == trace.aux.log_prob.shape == (STEPS, len(GOALS))

    # the same scan as `rollout`: same choices, rewards and done flags
    plain = rollout(tables, agent, GOALS, key, max_steps=STEPS)
    np.testing.assert_array_equal(plain.action, np.asarray(trace.action).T)
    np.testing.assert_array_equal(plain.reward, np.asarray(trace.reward).T)

    # replay the sessions along the recorded slots: each recorded observation is `observe`
    # of the state the choice was made in, and its log-prob rescored from it matches
    reset_key, _ = jax.random.split(key)
    states, _ = jax.vmap(reset, in_axes=(None, 0, 0))(
        tables, jax.random.split(reset_key, len(GOALS)), goals
    )
    look = jax.jit(jax.vmap(observe, in_axes=(None, 0)))
    advance = jax.jit(jax.vmap(step, in_axes=(None, 0, 0)))
    score = nnx.jit(lambda model, obs: model(*policy_inputs(obs)))
    for t in range(STEPS):
        recorded = jax.tree.map(lambda x, t=t: x[t], trace.observation)
        for mine, theirs in zip(
            jax.tree.leaves(recorded), jax.tree.leaves(look(tables, states)), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)
        out = score(policy, recorded)
        live = np.asarray(trace.action[t] >= 0)
        assert live[0] or t > 0  # every session acts at step 0
        expected = np.take_along_axis(
            np.asarray(out.log_probs), np.asarray(trace.slot[t])[:, None], 1
        )
        np.testing.assert_allclose(trace.aux.log_prob[t][live], expected[live, 0], rtol=1e-5)
        np.testing.assert_allclose(trace.aux.value[t], out.values, rtol=1e-5, atol=1e-6)
        states, _ = advance(tables, states, trace.slot[t])


def _hand_trace() -> Trace:
    """Two sessions, four steps. Session 0 buys at step 2 (reward 0.5) and then idles;
    session 1 never buys. Each observation's state_ids hold its (step, session) code."""
    steps, sessions, actions = 4, 2, 3
    code = np.arange(steps)[:, None] * 10 + np.arange(sessions)[None, :]  # (steps, sessions)
    obs = Observation(
        state_ids=jnp.asarray(np.repeat(code[..., None], 5, axis=-1), jnp.int32),
        state_mask=jnp.ones((steps, sessions, 5), jnp.int32),
        action_ids=jnp.zeros((steps, sessions, actions, 2), jnp.int32),
        action_token_mask=jnp.ones((steps, sessions, actions, 2), jnp.int32),
        action_mask=jnp.ones((steps, sessions, actions), bool),
        action_source=jnp.zeros((steps, sessions, actions), jnp.int32),
    )
    action = np.array([[0, 1], [2, 0], [1, 1], [-1, 2]], np.int32)
    reward = np.zeros((steps, sessions), np.float32)
    reward[2, 0] = 0.5
    done = np.zeros((steps, sessions), bool)
    done[2:, 0] = True
    values = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.25], [9.0, 4.0]], np.float32)
    log_prob = -np.arange(1, 9, dtype=np.float32).reshape(steps, sessions)
    return Trace(
        action=jnp.asarray(action),
        reward=jnp.asarray(reward),
        done=jnp.asarray(done),
        aux=Choice(jnp.asarray(log_prob), jnp.asarray(values)),
        slot=jnp.asarray(np.maximum(action, 0)),
        observation=obs,
    )


def test_gae_targets_by_hand_and_fixed_size_batches():
    trace, gamma = _hand_trace(), 0.9
    config = PPOConfig(gamma=gamma, lam=1.0, reward_scale=10.0)
    # λ = 1: A = R - V with R the discounted scaled return; session 1 is truncated -> R = 0
    expected_return = {
        (0, 0): gamma**2 * 5.0,
        (1, 0): gamma * 5.0,
        (2, 0): 5.0,
        (0, 1): 0.0,
        (1, 1): 0.0,
        (2, 1): 0.0,
        (3, 1): 0.0,
    }
    values = np.asarray(trace.aux.value)
    jitted = jax.jit(ppo_batch, static_argnames=("config", "batch_size", "normalize"))
    for batch_size in (16, 5):
        batch, stats = jitted(trace, jax.random.PRNGKey(0), config, batch_size=batch_size)
        assert batch.actions.shape == (batch_size,)
        assert batch.state_ids.shape == (batch_size, 5)
        codes = np.asarray(batch.state_ids[:, 0])
        rows = [(int(c) // 10, int(c) % 10) for c in codes]
        # the finished session's idle step (3, 0) never enters
        assert set(rows) <= set(expected_return)
        counts = np.bincount([list(expected_return).index(r) for r in rows], minlength=7)
        if batch_size > 7:  # all seven decisions, each twice or three times
            assert counts.min() >= 2 and counts.max() <= 3
        else:  # a subset, each once
            assert counts.max() == 1 and counts.sum() == batch_size
        for i, (t, b) in enumerate(rows):
            assert batch.returns[i] == pytest.approx(expected_return[t, b], rel=1e-6)
            assert batch.advantages[i] == pytest.approx(
                expected_return[t, b] - values[t, b], rel=1e-6, abs=1e-6
            )
            assert batch.old_log_probs[i] == trace.aux.log_prob[t, b]
            assert batch.actions[i] == trace.slot[t, b]
        assert stats["reward"] == pytest.approx(0.25)
        assert stats["success"] == 0.0 and stats["bought"] == 0.5 and stats["decisions"] == 7

    normalized, _ = jitted(trace, jax.random.PRNGKey(0), config, batch_size=7, normalize=True)
    assert float(jnp.mean(normalized.advantages)) == pytest.approx(0.0, abs=1e-5)
    assert float(jnp.std(normalized.advantages)) == pytest.approx(1.0, abs=1e-4)


def test_collect_is_fixed_size_and_compiles_once(tables, policy):
    config = PPOConfig(reward_scale=10.0)
    _, reference = nnx.split(policy)
    batch, stats = collect(
        tables,
        policy,
        GOALS,
        jax.random.PRNGKey(0),
        max_steps=STEPS,
        config=config,
        batch_size=8,
        reference=reference,
    )
    compiled = ppo_rollout._collect._cache_size()
    assert batch.state_ids.shape == (8, 48) and batch.action_ids.shape[::2] == (8, 10)
    assert np.isfinite(np.asarray(batch.old_log_probs)).all()  # live decisions only
    assert np.take_along_axis(
        np.asarray(batch.action_mask), np.asarray(batch.actions)[:, None], 1
    ).all()
    # the reference is the collecting policy here, so its log-probs agree
    np.testing.assert_allclose(
        np.take_along_axis(np.asarray(batch.ref_log_probs), np.asarray(batch.actions)[:, None], 1)[
            :, 0
        ],
        batch.old_log_probs,
        rtol=1e-5,
    )
    assert len(GOALS) <= stats["decisions"] <= len(GOALS) * STEPS
    assert 0.0 <= stats["reward"] <= 1.0

    # new parameters of the same shapes reuse the compiled collection
    graphdef, params, rest = nnx.split(policy, nnx.Param, ...)
    shifted = nnx.merge(graphdef, jax.tree.map(lambda x: x * 1.01, params), rest)
    collect(
        tables,
        shifted,
        GOALS,
        jax.random.PRNGKey(1),
        max_steps=STEPS,
        config=config,
        batch_size=8,
        reference=reference,
    )
    assert ppo_rollout._collect._cache_size() == compiled
