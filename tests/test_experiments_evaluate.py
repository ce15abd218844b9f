"""The evaluate command end to end on the embedded catalog, and the evaluator benchmark's smoke run."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxrec.eval.online import report
from jaxrec.experiments import bench_eval, evaluate
from jaxrec.train import generate

# the store and arms test_eval_arms compiles, so the rollout is compiled once per session
TINY = ["--state-len=64", "--action-len=16", "--max-steps=15", "--sessions=48", "--draws=500"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXREC_CACHE", str(tmp_path / "cache"))


def _report(run_dir) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def test_thompson_run_writes_report_rounds_and_plots(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert evaluate.main([*TINY, "--rollouts=96", "--runs=2", f"--run-dir={run_dir}"]) == 0
    assert "best: oracle" in capsys.readouterr().out
    for name in ("config.json", "report.json", "rounds.jsonl", "running.png", "posteriors.png"):
        assert (run_dir / name).stat().st_size > 0, name
    report = _report(run_dir)
    pooled, arms = report["pooled"], report["pooled"]["arms"]
    assert set(arms) == {"rule", "random", "oracle"}
    assert pooled["episodes"] == 2 * 96 == sum(a["episodes"] for a in arms.values())
    assert sum(a["traffic"] for a in arms.values()) == pytest.approx(1.0)
    assert pooled["best"] == "oracle" and arms["oracle"]["prob_best"] > 0.95
    assert arms["oracle"]["traffic"] > 0.5  # Thompson sampling moves traffic to the best arm
    assert arms["oracle"]["success_low"] > arms["rule"]["success_high"]
    for a in arms.values():
        assert a["success_low"] <= a["success"] <= a["success_high"]
        assert a["score_low"] <= a["score"] <= a["score_high"]
    assert pooled["cumulative_regret"] > 0
    assert [r["stopped"] for r in report["runs"]] == ["rollouts", "rollouts"]
    rounds = [json.loads(line) for line in (run_dir / "rounds.jsonl").read_text().splitlines()]
    assert [(r["run"], r["rollouts"]) for r in rounds] == [(0, 48), (0, 96), (1, 48), (1, 96)]

    compiled = generate._rollout._cache_size()
    again = tmp_path / "again"
    evaluate.main([*TINY, "--rollouts=96", "--runs=2", f"--run-dir={again}"])
    assert _report(again) == report  # reproducible per seed
    assert generate._rollout._cache_size() == compiled  # new rounds and runs reuse the rollout


def test_fixed_mode_plays_every_arm_equally_and_stops_at_the_threshold(tmp_path):
    run_dir = tmp_path / "fixed"
    argv = [*TINY, "--mode=fixed", "--threshold=0.9", "--rollouts=480", f"--run-dir={run_dir}"]
    evaluate.main([*argv, "--runs=1"])
    report = _report(run_dir)
    assert report["runs"][0]["stopped"] == "threshold"
    assert [a["episodes"] for a in report["pooled"]["arms"].values()] == [16, 16, 16]


def test_report_of_hand_made_episodes():
    arm, reward = np.array([0, 0, 1]), np.array([1.0, 0.0, 0.5])
    figures = report(
        ("a", "b", "c"), arm, reward, np.array([3, 4, 5]), jax.random.PRNGKey(0), draws=500
    )
    a, b, c = (figures["arms"][n] for n in "abc")
    assert (a["episodes"], a["success"], a["score"], a["mean_steps"]) == (2, 0.5, 50.0, 3.5)
    assert b["posterior_success"] == pytest.approx(1 / 3)
    assert b["posterior_score"] == pytest.approx(100 * 1.5 / 3)
    assert c == {
        "episodes": 0,
        "posterior_success": 0.5,
        "posterior_score": 50.0,
        "prob_best": c["prob_best"],
        "traffic": 0.0,
    }
    assert a["traffic"] == pytest.approx(2 / 3)
    # regret against the best posterior mean success (a and c: 1/2): only b's episode costs
    assert figures["cumulative_regret"] == pytest.approx(0.5 - 1 / 3)


def test_a_bad_arm_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="arm 'runs/missing'"):
        evaluate.main([*TINY, "--arms=rule,runs/missing", f"--run-dir={tmp_path}"])


@pytest.mark.slow
def test_bench_eval_smoke_prints_both_rates_and_the_ratio(capsys, tmp_path):
    assert bench_eval.main(["--smoke", "--json", "--out", str(tmp_path / "eval")]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads((tmp_path / "eval.json").read_text()) == payload
    assert (tmp_path / "eval.png").stat().st_size > 0
    assert payload["sequential"]["episodes_per_second"] > 0
    (row,) = payload["evaluator"]
    assert row["episodes_per_second"] > 0
    assert row["ratio"] == pytest.approx(
        row["episodes_per_second"] / payload["sequential"]["episodes_per_second"]
    )
