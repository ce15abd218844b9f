"""Interval statistics, the built-in agents, and the commands that use them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jaxrec.eval.stats import mean_interval, wilson_interval
from jaxrec.experiments.baselines import main as baselines_main
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import oracle_policy, random_policy, rule_policy, run_episode
from jaxrec.webshop.play import play
from jaxrec.webshop.store import WebShopStore


def test_wilson_interval_matches_hand_computation():
    low, high = wilson_interval(8, 10)
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 7)[1] > 0 and wilson_interval(7, 7)[0] < 1
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_mean_interval():
    mean, low, high = mean_interval([0.0, 1.0, 0.5, 0.5])
    half = 1.959963984540054 * np.std([0, 1, 0.5, 0.5], ddof=1) / 2
    assert (mean, low, high) == pytest.approx((0.5, 0.5 - half, 0.5 + half))


@pytest.fixture()
def env(tiny_catalog) -> AgentEnv:
    return AgentEnv(WebShopStore(*tiny_catalog), max_steps=30)


def test_oracle_buys_the_goal_with_its_options(env):
    episode = run_episode(env, oracle_policy, 0, np.random.default_rng(0))
    assert episode.success and episode.reward == 1.0
    assert episode.actions[0].startswith("search[") and "click[navy blue]" in episode.actions
    assert episode.actions[-1] == "click[buy now]"


def test_rule_buys_the_first_result(env):
    episode = run_episode(env, rule_policy, 1, np.random.default_rng(0))
    assert episode.steps == 3 and episode.actions[1] == "click[item - desk lamp]"
    assert episode.success  # 'find me a bright desk lamp' ranks the lamp first


def test_random_agent_is_reproducible_and_bounded(env):
    runs = [run_episode(env, random_policy, 0, np.random.default_rng(7)) for _ in range(2)]
    assert runs[0] == runs[1] and 1 <= runs[0].steps <= 30


def test_baselines_command_writes_json_and_png(tmp_path, capsys):
    code = baselines_main(
        ["--episodes", "5", "--policies", "rule,oracle", "--run-dir", str(tmp_path)]
    )
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert code == 0 and set(results) == {"rule", "oracle"}
    assert results["oracle"]["episodes"] == 5 and results["oracle"]["success_rate"] >= 0.8
    assert (tmp_path / "baselines.png").read_bytes()[:4] == b"\x89PNG"
    assert "oracle" in capsys.readouterr().out


def test_baselines_command_rejects_unknown_policy(tmp_path):
    with pytest.raises(SystemExit):
        baselines_main(["--policies", "rule,genius", "--run-dir", str(tmp_path)])


def test_play_session_by_numbers_and_text(env, capsys):
    typed = iter(["0", "click[p000000000]", "nonsense", "click[navy blue]", "click[buy now]"])
    env.store.reset(goal_index=0)
    reward = play(env, 0, None, ask=lambda prompt: next(typed))
    out = capsys.readouterr().out
    assert reward == 1.0
    assert "not a valid action here: 'nonsense'" in out and "r_option: 1.0" in out
