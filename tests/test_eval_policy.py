"""Policy evaluation in the compiled store: oracle parity, a random policy end to end, determinism."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxrec.env import CompileConfig, StoreTables, compile_store
from jaxrec.eval.policy_eval import evaluate_policy, policy_agent
from jaxrec.train import generate
from jaxrec.train.generate import oracle_agent, oracle_tables
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import oracle_policy, run_episode
from jaxrec.webshop.store import WebShopStore

MAX_STEPS = 15


@pytest.fixture(scope="module")
def tables(synthetic, tokenizer, tmp_path_factory) -> StoreTables:
    config = CompileConfig(state_len=64, action_len=16, max_steps=MAX_STEPS)
    return compile_store(synthetic, tokenizer, config, cache_dir=tmp_path_factory.mktemp("env"))


def test_oracle_success_equals_the_reference_oracle(synthetic, tables):
    goals = np.random.default_rng(1).choice(len(synthetic.goals), 40, replace=False).tolist()
    figures = evaluate_policy(
        tables, oracle_agent(tables, oracle_tables(synthetic)), goals, jax.random.PRNGKey(0)
    )
    env = AgentEnv(WebShopStore.from_data(synthetic), max_steps=MAX_STEPS)
    rng = np.random.default_rng(0)
    rewards = [run_episode(env, oracle_policy, g, rng).reward for g in goals]
    assert figures["episodes"] == len(goals)
    assert figures["success"] == np.mean([r == 1.0 for r in rewards]) > 0.5
    assert figures["score"] == pytest.approx(100 * np.mean(rewards), abs=1e-3)
    assert figures["success_low"] <= figures["success"] <= figures["success_high"]


@pytest.mark.parametrize("greedy", [True, False])
def test_random_policy_runs_end_to_end_deterministically(tables, policy, greedy):
    agent = policy_agent(policy, greedy=greedy)
    figures = evaluate_policy(tables, agent, list(range(6)), jax.random.PRNGKey(3), max_steps=6)
    assert all(math.isfinite(v) for v in figures.values())
    assert 0.0 <= figures["success"] <= 1.0
    # Wilson's bounds carry rounding error at 0 and 1
    assert figures["success_low"] <= figures["success"] <= figures["success_high"]
    assert 0.0 < figures["mean_steps"] <= 6
    again = evaluate_policy(tables, agent, list(range(6)), jax.random.PRNGKey(3), max_steps=6)
    assert again == figures


def test_no_goals_is_an_error(tables, policy):
    with pytest.raises(ValueError, match="at least one goal"):
        evaluate_policy(tables, policy_agent(policy), [], jax.random.PRNGKey(0))


def test_new_parameters_reuse_the_compiled_rollout(tables, policy):
    goals, key = list(range(4)), jax.random.PRNGKey(5)
    first = policy_agent(policy)
    evaluate_policy(tables, first, goals, key, max_steps=3)
    compiled = generate._rollout._cache_size()
    shifted = jax.tree.map(lambda x: x + 0.5, first.params)
    second = policy_agent(policy)._replace(params=shifted)
    assert second.choose is first.choose
    evaluate_policy(tables, second, goals, key, max_steps=3)
    assert generate._rollout._cache_size() == compiled
