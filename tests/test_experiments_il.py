"""The imitation command end to end: run folder files, exact resume, config errors."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxrec.experiments.config import ConfigError
from jaxrec.experiments.il import main
from jaxrec.experiments.metrics import read_metrics
from jaxrec.experiments.workspace import epoch_rows
from jaxrec.models.factory import make_policy
from jaxrec.train.checkpoint import Checkpointer
from jaxrec.train.imitation import make_optimizer

TINY = [
    "--tiny",
    "--train-goals=6",
    "--eval-goals=3",
    "--batch=4",
    "--state-len=64",
    "--action-len=12",
    "--warmup=2",
    "--lr=1e-3",
    "--save-every=2",
    "--eval-every=100",
]


def _params(run_dir) -> list[np.ndarray]:
    """The latest checkpoint's parameter leaves."""
    policy, _ = make_policy(tiny=True)
    with Checkpointer(run_dir) as ckpt:
        ckpt.restore(model=policy, optimizer=make_optimizer(policy, 1e-3, warmup=2))
    return [np.asarray(x) for x in jax.tree.leaves(policy)]


def test_epoch_rows_cover_each_epoch_and_depend_only_on_seed_and_step():
    epoch = np.concatenate([epoch_rows(10, 5, 0, s) for s in (0, 1)])
    assert sorted(epoch) == list(range(10))
    assert (epoch_rows(10, 5, 0, 7) == epoch_rows(10, 5, 0, 7)).all()
    assert not (epoch_rows(10, 5, 1, 0) == epoch_rows(10, 5, 0, 0)).all()


def test_run_then_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    assert main([*TINY, "--steps=3", f"--run-dir={stopped}"]) == 0
    assert "held-out success" in capsys.readouterr().out
    for name in ("config.json", "metrics.jsonl", "curves.png"):
        assert (stopped / name).is_file(), name
    assert json.loads((stopped / "config.json").read_text())["steps"] == 3

    with pytest.raises(ConfigError, match="different lr"):
        main([*TINY, "--steps=6", "--lr=0.1", f"--run-dir={stopped}", "--resume"])
    main([*TINY, "--steps=6", f"--run-dir={stopped}", "--resume"])
    assert "resumed from step 3" in capsys.readouterr().out
    main([*TINY, "--steps=6", f"--run-dir={whole}"])
    for a, b in zip(_params(stopped), _params(whole), strict=True):
        np.testing.assert_array_equal(a, b)

    def losses(run_dir) -> list[tuple[int, float]]:
        return [(r["step"], r["loss"]) for r in read_metrics(run_dir) if r["split"] == "train"]

    assert losses(stopped) == losses(whole) and len(losses(whole)) == 6
    evals = [r["step"] for r in read_metrics(stopped) if r["split"] == "eval"]
    assert evals == [0, 3, 6]  # the stopped run's last evaluation is kept, not repeated


def test_unknown_config_key_is_an_error(tmp_path):
    path = tmp_path / "il.json"
    path.write_text(json.dumps({"stepz": 3}))
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        main(["--config", str(path), "--tiny"])
