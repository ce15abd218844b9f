"""Evaluator arms in the compiled store: rule/random/oracle against the reference store,
stacked policies choosing as each alone, checkpoint arms, and clear errors."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxrec.env import CompileConfig, StoreTables, compile_store, reset, step
from jaxrec.eval.arms import Arm, make_arms, mix
from jaxrec.eval.policy_eval import policy_agent
from jaxrec.eval.thompson import fixed_arms
from jaxrec.models.factory import make_policy
from jaxrec.train.checkpoint import Checkpointer
from jaxrec.train.generate import rollout, to_trajectories
from jaxrec.train.imitation import make_optimizer
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import oracle_policy, rule_policy, run_episode
from jaxrec.webshop.store import WebShopStore

MAX_STEPS = 15
GOALS = 16  # 3 arms x 16 goals = 48 sessions, the shape test_experiments_evaluate runs


@pytest.fixture(scope="module")
def tables(synthetic, tokenizer, tmp_path_factory) -> StoreTables:
    config = CompileConfig(state_len=64, action_len=16, max_steps=MAX_STEPS)
    return compile_store(synthetic, tokenizer, config, cache_dir=tmp_path_factory.mktemp("env"))


def test_baseline_arms_match_the_reference_store(synthetic, tokenizer, tables):
    goals = np.random.default_rng(2).choice(len(synthetic.goals), GOALS, replace=False)
    arm_set = mix(make_arms(["rule", "random", "oracle"], tables, synthetic, tokenizer))
    assert not arm_set.reads_tokens and len(arm_set.group_params) == 3
    arms = fixed_arms(3, 3 * GOALS)  # every arm on every goal, in blocks
    batch = rollout(
        tables, arm_set.agent(arms), np.tile(goals, 3), jax.random.PRNGKey(0), render=False
    )
    rewards = batch.reward.sum(1).reshape(3, GOALS)
    env = AgentEnv(WebShopStore.from_data(synthetic), max_steps=MAX_STEPS)
    rng = np.random.default_rng(0)
    for row, policy in ((0, rule_policy), (2, oracle_policy)):
        reference = [run_episode(env, policy, int(g), rng).reward for g in goals]
        np.testing.assert_allclose(rewards[row], reference, atol=1e-4)
    assert (batch.action[:GOALS, :3] >= 0).all()  # rule: search, click, buy
    assert (batch.action[:GOALS, 3:] < 0).all()

    # random: the reference store, replaying its choices, gives the same rewards (raises if
    # not); every choice is valid and the choices vary
    random_sessions = range(GOALS, 2 * GOALS)
    to_trajectories(env, batch, "generated", sessions=random_sessions)
    random_actions = batch.action[GOALS : 2 * GOALS]
    taken = (random_actions >= 0).sum(1)
    ended = batch.done[GOALS : 2 * GOALS, -1]
    assert ((taken == MAX_STEPS) | ended).all()
    assert len(set(random_actions[:, 1].tolist())) > 3


def test_stacked_policies_choose_as_each_alone(synthetic, tokenizer, tables):
    first, second = (policy_agent(make_policy(tiny=True, seed=s)[0]) for s in (0, 1))
    rule = make_arms(["rule"], tables, synthetic, tokenizer)[0]
    arm_set = mix([Arm("first", first, True), rule, Arm("second", second, True)])
    assert arm_set.reads_tokens and arm_set.arm_group.tolist() == [0, 1, 0]
    assert arm_set.arm_member.tolist() == [0, 0, 1]

    sessions = 6
    session_arms = jnp.array([0, 1, 2, 0, 1, 2])
    agent = arm_set.agent(session_arms)

    @jax.jit
    def choices(tables, params):
        keys = jax.random.split(jax.random.PRNGKey(3), sessions)
        states, _ = jax.vmap(reset, in_axes=(None, 0, 0))(tables, keys, jnp.arange(sessions))
        states, timesteps = jax.vmap(step, in_axes=(None, 0, None))(tables, states, 0)  # search
        key = jax.random.PRNGKey(4)
        alone = [
            arm.choose(p, key, states, timesteps)
            for arm, p in zip((first, rule.agent, second), params[1:], strict=True)
        ]
        return agent.choose(params[0], key, states, timesteps), alone

    mixed, alone = choices(tables, (agent.params, first.params, None, second.params))
    for s, arm in enumerate(session_arms.tolist()):
        assert int(mixed[s]) == int(alone[arm][s])
    assert not np.array_equal(alone[0], alone[2])  # the two policies differ somewhere


def test_checkpoint_arm_loads_the_saved_parameters(synthetic, tokenizer, tables, tmp_path):
    policy, _ = make_policy(tiny=True, seed=5)
    (tmp_path / "config.json").write_text(json.dumps({"tiny": True, "bert": None}))
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(
            1,
            model=policy,
            optimizer=make_optimizer(policy, 1e-3, warmup=1),
            rng_key=jax.random.PRNGKey(0),
            data_position=1,
            force=True,
        )
    (arm,) = make_arms([str(tmp_path)], tables, synthetic, tokenizer)
    assert arm.reads_tokens and arm.name == str(tmp_path)
    saved = jax.tree.leaves(nnx.split(policy)[1])
    for mine, theirs in zip(jax.tree.leaves(arm.agent.params), saved, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_bad_arms_are_clear_errors(synthetic, tokenizer, tables, tmp_path):
    with pytest.raises(FileNotFoundError, match="arm 'no/such/run'.*built-in"):
        make_arms(["rule", "no/such/run"], tables, synthetic, tokenizer)
    with pytest.raises(FileNotFoundError, match=f"arm '{tmp_path}'.*config.json"):
        make_arms([str(tmp_path)], tables, synthetic, tokenizer)
    (tmp_path / "config.json").write_text(json.dumps({"tiny": True}))
    with pytest.raises(FileNotFoundError, match=f"arm '{tmp_path}'"):
        make_arms([str(tmp_path)], tables, synthetic, tokenizer)  # no checkpoint in it
    with pytest.raises(ValueError, match="distinct"):
        make_arms(["rule", "rule"], tables, synthetic, tokenizer)
