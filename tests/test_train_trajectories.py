"""Trajectories: JSON lines, replay, loop pruning, WebShop log import, compiled generation."""

from __future__ import annotations

import json
from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrec.env import Act, CompileConfig, Page, compile_store
from jaxrec.train.batching import encode_steps
from jaxrec.train.demos import oracle_demonstrations
from jaxrec.train.generate import (
    Agent,
    generate_trajectories,
    oracle_choice,
    oracle_tables,
    oracle_trajectories_compiled,
    rollout,
)
from jaxrec.train.trajectories import (
    Trajectory,
    choice_steps,
    import_webshop_log,
    page_keys,
    prune_loops,
    read_jsonl,
    replay,
    to_jsonl,
)
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import oracle_policy, run_episode
from jaxrec.webshop.store import WebShopStore

MAX_STEPS = 20


@pytest.fixture(scope="module")
def tables(synthetic, tokenizer, tmp_path_factory):
    config = CompileConfig(state_len=64, max_steps=MAX_STEPS)
    return compile_store(synthetic, tokenizer, config, cache_dir=tmp_path_factory.mktemp("env"))


@pytest.fixture()
def env(synthetic) -> AgentEnv:
    return AgentEnv(WebShopStore.from_data(synthetic), max_steps=MAX_STEPS)


@pytest.fixture()
def tiny_env(tiny_catalog) -> AgentEnv:
    products, prices, goals = tiny_catalog
    return AgentEnv(WebShopStore(products, prices, goals))


def _oracle_trajectory(env: AgentEnv, goal: int) -> Trajectory:
    """The reference oracle's episode on `goal`, as a trajectory (full action lists)."""
    steps = oracle_demonstrations(env, [goal], np.random.default_rng(0))
    actions = tuple(s.actions[s.gold] for s in steps)
    _, info = env.reset(goal_index=goal)
    indices, rewards, done = [], [], False
    for action in actions:
        indices.append(info["valid_actions"].index(action))
        _, reward, done, info = env.step(action)
        rewards.append(reward)
    return Trajectory(goal, actions, tuple(indices), tuple(rewards), done, "oracle")


def test_jsonl_round_trip_and_replay(tiny_env, tmp_path):
    trajectories = [_oracle_trajectory(tiny_env, g) for g in (0, 1)]
    assert [t.reward for t in trajectories] == [1.0, 1.0]
    path = tmp_path / "t.jsonl"
    to_jsonl(trajectories, path)
    assert read_jsonl(path) == trajectories
    steps = choice_steps(tiny_env, trajectories)
    assert len(steps) == sum(len(t.actions) for t in trajectories)
    assert [s.actions[s.gold] for s in steps[: len(trajectories[0].actions)]] == list(
        trajectories[0].actions
    )
    assert steps[0].observation.startswith(tiny_env.reset(goal_index=0)[0][:20])


def test_replay_errors_name_trajectory_and_step(tiny_env):
    good = _oracle_trajectory(tiny_env, 0)
    bad = Trajectory(0, (good.actions[0], "click[nowhere]"), (0, 0), (0.0, 0.0), False, "oracle")
    with pytest.raises(ValueError, match=r"mine \(goal 0\): step 1: 'click\[nowhere\]'"):
        replay(tiny_env, bad, label="mine")
    wrong_reward = Trajectory(
        0, good.actions, good.action_indices, (0.0,) * len(good.actions), True, "oracle"
    )
    with pytest.raises(ValueError, match="reward"):
        replay(tiny_env, wrong_reward)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "line 2: not valid JSON"),
        ('{"goal_index": 0}', "line 2: field 'actions' is missing"),
        (
            '{"goal_index": 0, "actions": ["a"], "action_indices": ["x"], "rewards": [0],'
            ' "done": false, "source": "oracle"}',
            "line 2: field 'action_indices' must be",
        ),
        (
            '{"goal_index": 0, "actions": ["a"], "action_indices": [0], "rewards": [],'
            ' "done": false, "source": "oracle"}',
            "line 2: .*differ in length",
        ),
        (
            '{"goal_index": 0, "actions": [], "action_indices": [], "rewards": [],'
            ' "done": false, "source": "human"}',
            "line 2: field 'source'",
        ),
    ],
)
def test_malformed_jsonl_names_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = Trajectory(0, ("search[x]",), (0,), (0.0,), False, "oracle")
    to_jsonl([good], path)
    with path.open("a") as handle:
        handle.write(line + "\n")
    with pytest.raises(ValueError, match=f"bad.jsonl: {message}"):
        read_jsonl(path)


def _hand(actions: list[str]) -> Trajectory:
    n = len(actions)
    return Trajectory(
        7, tuple(actions), tuple(range(n)), (0.0,) * (n - 1) + (1.0,), True, "generated"
    )


def test_prune_loops_removes_detours_only():
    plain = _hand(["s", "a", "b"])
    assert prune_loops(plain, ["A", "B", "C", "D"]) == plain
    # A -s-> R -x-> X -prev-> R -y-> Y -buy-> D: the visit to X is cut
    detour = _hand(["s", "x", "prev", "y", "buy"])
    pruned = prune_loops(detour, ["A", "R", "X", "R", "Y", "D"])
    assert pruned.actions == ("s", "y", "buy")
    assert pruned.action_indices == (0, 3, 4) and pruned.rewards == (0.0, 0.0, 1.0)
    # nested loops and a no-op step (same page again)
    nested = _hand(["s", "n", "x", "p", "p", "noop", "buy"])
    keys = ["A", "R1", "R2", "X", "R2", "R1", "R1", "D"]
    assert prune_loops(nested, keys).actions == ("s", "buy")
    with pytest.raises(ValueError, match="page key"):
        prune_loops(plain, ["A"])


def test_import_webshop_log(tmp_path):
    lines = [
        {
            "states": [
                "WebShop Instruction: find a lamp [button] Search [button_]",
                "results page",
            ],
            "actions": ["search[lamp]", "click[b0001]"],
            "available_actions": [[], ["back to search", "next >", "b0001"]],
            "action_idxs": [-1, 2],
            "images": [0, 0],
        },
        {
            "states": ["item page"],
            "actions": ["click[buy now]"],
            "available_actions": [[f"a{i}" for i in range(25)] + ["buy now"]],
            "action_idxs": [25],
        },
    ]
    path = tmp_path / "il.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    steps = import_webshop_log(path)
    assert [(s.observation, s.actions[s.gold]) for s in steps] == [
        ("results page", "b0001"),
        ("item page", "buy now"),
    ]
    capped = import_webshop_log(path, rng=np.random.default_rng(0))
    assert len(capped[1].actions) == 16 and capped[1].actions[capped[1].gold] == "buy now"

    broken = dict(lines[1], action_idxs=[26])
    path.write_text(json.dumps(lines[0]) + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(ValueError, match="il.jsonl: line 2: step 0: field 'action_idxs'"):
        import_webshop_log(path)
    path.write_text(json.dumps({k: v for k, v in lines[0].items() if k != "states"}) + "\n")
    with pytest.raises(ValueError, match="line 1: field 'states' is missing"):
        import_webshop_log(path)


def test_compiled_oracle_equals_the_reference_oracle(synthetic, tables, env):
    goals = np.random.default_rng(0).choice(len(synthetic.goals), 100, replace=False).tolist()
    oracle = oracle_tables(synthetic)
    compiled = oracle_trajectories_compiled(tables, oracle, env, goals, jax.random.PRNGKey(0))
    reference = defaultdict(list)
    for s in oracle_demonstrations(env, goals, np.random.default_rng(0)):
        reference[s.goal_index].append(s.actions[s.gold])
    rng = np.random.default_rng(0)
    for goal, trajectory in zip(goals, compiled, strict=True):
        episode = run_episode(env, oracle_policy, goal, rng)
        assert trajectory.goal_index == goal
        assert trajectory.reward == pytest.approx(episode.reward, abs=1e-5), goal
        assert len(trajectory.actions) == episode.steps, goal
        if episode.success:
            assert trajectory.actions == tuple(reference[goal]), goal
            replay(env, trajectory)
    assert sum(t.reward == 1.0 for t in compiled) == len(reference) > 50


def test_generation_keeps_successes_and_prunes_detours(synthetic, tables, env, tokenizer):
    oracle = oracle_tables(synthetic)
    goals = np.random.default_rng(1).choice(len(synthetic.goals), 48, replace=False).tolist()

    def detour(params, key, states, timesteps):
        """The oracle, but first look at another result and come back."""
        best = jax.vmap(oracle_choice, in_axes=(None, None, 0))(tables, oracle, states)
        kinds = states.action_kind
        offered = jnp.arange(kinds.shape[1])[None] < states.num_actions[:, None]
        other = jnp.argmax(
            (kinds == Act.PRODUCT) & offered & (jnp.arange(kinds.shape[1]) != best[:, None]), 1
        )
        on_results = (states.page == Page.RESULTS) & ~states.visited.any(1)
        found = jnp.take_along_axis(kinds, best[:, None], 1)[:, 0] == Act.PRODUCT
        wrong_item = (states.page == Page.ITEM) & (
            states.product != oracle.goal_product[states.goal]
        )
        prev = jnp.argmax(kinds == Act.PREV, 1)
        return jnp.select([on_results & found, wrong_item], [other, prev], best)

    reference = {
        t.goal_index: t
        for t in oracle_trajectories_compiled(tables, oracle, env, goals, jax.random.PRNGKey(0))
    }
    kept = generate_trajectories(
        tables, env, Agent(detour), goals, jax.random.PRNGKey(2), render=False
    )
    assert kept and len(kept) == sum(t.reward == 1.0 for t in reference.values())
    for trajectory in kept:
        assert trajectory.source == "generated" and trajectory.reward == 1.0
        assert trajectory.actions == reference[trajectory.goal_index].actions  # detour cut
        replay(env, trajectory)
    raw = rollout(tables, Agent(detour), goals, jax.random.PRNGKey(2), render=False)
    raw_steps = (raw.action >= 0).sum(1)
    assert sum(raw_steps) >= sum(len(t.actions) for t in reference.values()) + 2 * len(kept)

    def noisy(params, key, states, timesteps):
        """The oracle with one action in four random: successes with assorted loops."""
        pick, explore = jax.random.split(key)
        mask = timesteps.observation.action_mask
        random = jax.random.categorical(pick, jnp.where(mask, 0.0, -jnp.inf))
        best = jax.vmap(oracle_choice, in_axes=(None, None, 0))(tables, oracle, states)
        return jnp.where(jax.random.uniform(explore, best.shape) < 0.25, random, best)

    kept = generate_trajectories(
        tables, env, Agent(noisy), goals, jax.random.PRNGKey(3), render=False
    )
    assert kept
    for trajectory in kept:
        assert trajectory.reward == 1.0 and trajectory.done
        keys = page_keys(env, trajectory)
        assert len(set(keys)) == len(keys)  # no page visited twice
        replay(env, trajectory)
    batch = encode_steps(
        tokenizer,
        choice_steps(env, kept, np.random.default_rng(0)),
        state_len=64,
        action_len=16,
        max_actions=20,
    )
    assert batch.state_ids.shape[0] == sum(len(t.actions) for t in kept)
