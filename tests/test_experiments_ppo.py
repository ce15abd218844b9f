"""The PPO command end to end on a tiny config: run folder files and exact resume."""

from __future__ import annotations

import json

import jax
import numpy as np

from jaxrec.experiments.metrics import read_metrics
from jaxrec.experiments.ppo import main
from jaxrec.models.factory import make_policy
from jaxrec.train.checkpoint import restore_params

TINY = [
    "--tiny",
    "--sessions=3",
    "--max-steps=4",
    "--batch=8",
    "--minibatches=2",
    "--epochs=1",
    "--lr=1e-3",
    "--kl-coef=0.1",
    "--eval-goals=2",
    "--eval-max-steps=4",
    "--state-len=48",
    "--action-len=10",
    "--save-every=1",
    "--eval-every=100",
]


def _params(run_dir, step: int) -> list[np.ndarray]:
    policy, _ = make_policy(tiny=True)
    restore_params(run_dir / "checkpoints" / str(step), policy)
    return [np.asarray(x) for x in jax.tree.leaves(policy)]


def test_run_files_and_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    assert main([*TINY, "--steps=1", f"--run-dir={stopped}"]) == 0
    assert "held-out success" in capsys.readouterr().out
    for name in ("config.json", "metrics.jsonl", "curves.png", "results.json"):
        assert (stopped / name).is_file(), name
    assert json.loads((stopped / "config.json").read_text())["kl_coef"] == 0.1
    train = [r for r in read_metrics(stopped) if r["split"] == "train"]
    assert {
        "loss",
        "policy_loss",
        "value_loss",
        "kl",
        "rollout_reward",
        "rollout_decisions",
    } <= set(train[0])
    assert all(np.isfinite(v) for v in train[0].values() if isinstance(v, float))

    main([*TINY, "--steps=2", f"--run-dir={stopped}", "--resume"])
    assert "resumed from step 1" in capsys.readouterr().out
    main([*TINY, "--steps=2", f"--run-dir={whole}"])
    for a, b in zip(_params(stopped, 2), _params(whole, 2), strict=True):
        np.testing.assert_array_equal(a, b)

    def losses(run_dir) -> list[tuple[int, float]]:
        return [(r["step"], r["loss"]) for r in read_metrics(run_dir) if r["split"] == "train"]

    assert losses(stopped) == losses(whole) and len(losses(whole)) == 2
