"""The DPO pipeline end to end on a tiny config: stages, files, the pairs, exact resume."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

from jaxrec.experiments.bench_pipeline import SMOKE
from jaxrec.experiments.dpo import main
from jaxrec.experiments.metrics import read_metrics
from jaxrec.models.factory import make_policy
from jaxrec.train.checkpoint import restore_params
from jaxrec.train.trajectories import read_jsonl

# the benchmark's smoke config, saving every step and with --steps given per run
TINY = [a for a in SMOKE if not a.startswith("--steps")] + ["--save-every=1"]


def _params(run_dir) -> list[np.ndarray]:
    policy, _ = make_policy(tiny=True)
    restore_params(run_dir / "checkpoints" / "4", policy)
    return [np.asarray(x) for x in jax.tree.leaves(policy)]


def test_pipeline_files_pairs_and_resume(tmp_path, capsys):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    assert main([*TINY, "--steps=2", f"--run-dir={stopped}"]) == 0
    out = capsys.readouterr().out
    assert "rule baseline: held-out success" in out and "warm start -> DPO" in out
    for name in ("config.json", "metrics.jsonl", "curves.png", "results.json", "il/curves.png"):
        assert (stopped / name).is_file(), name

    # the warm start keeps its own schedule (one save, at its end), not DPO's --save-every=1
    saved = [p.name for p in (stopped / "il" / "checkpoints").iterdir() if p.name.isdigit()]
    assert saved == ["2"]
    results = json.loads((stopped / "results.json").read_text())
    assert set(results) >= {"rule", "warm_start", "dpo", "trajectories", "pairs", "seconds"}
    assert results["sources"] == ["oracle"]
    trajectories = read_jsonl(stopped / "trajectories.jsonl")
    assert len(trajectories) == results["trajectories"] > 0
    assert all(t.reward == 1.0 and t.source == "oracle" for t in trajectories)
    with np.load(stopped / "pairs.npz") as pairs:
        assert (
            len(pairs["rejected"]) == results["pairs"] == sum(len(t.actions) for t in trajectories)
        )
        assert (pairs["ref_chosen"] <= 0).all() and (pairs["usable"] == 1).any()

    # the policy starts equal to the reference, so the first DPO loss is log 2
    train = [r for r in read_metrics(stopped) if r["split"] == "train"]
    assert train[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert train[0]["margin"] == pytest.approx(0.0, abs=1e-5)

    main([*TINY, "--steps=4", f"--run-dir={stopped}", "--resume"])
    out = capsys.readouterr().out
    assert "warm start: reusing" in out and "resumed from step 2" in out
    main([*TINY, "--steps=4", f"--run-dir={whole}"])
    for a, b in zip(_params(stopped), _params(whole), strict=True):
        np.testing.assert_array_equal(a, b)


def test_no_winning_episode_is_a_clear_error_without_the_fallback(tmp_path):
    # two steps cannot reach a purchase (search, click an item, buy), so nothing wins
    short = [a for a in TINY if not a.startswith(("--source", "--eval-max-steps"))]
    args = [*short, "--eval-max-steps=2", "--gen-goals=2", "--no-oracle-fallback"]
    with pytest.raises(RuntimeError, match="nothing to prefer"):
        main([*args, "--steps=1", f"--run-dir={tmp_path / 'run'}"])
