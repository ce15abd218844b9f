"""The update-step benchmark runs end to end in its smoke size and reports sane figures."""

from __future__ import annotations

import importlib.util
import json

import pytest

from jaxrec.experiments import bench_update
from jaxrec.models.config import BertConfig


def test_forward_flops_count_the_matmuls():
    """Hand count for a 1-layer encoder: projections, feed-forward, attention; plus the head."""
    config = BertConfig.tiny().replace(num_hidden_layers=1)
    h, f = config.hidden_size, config.intermediate_size

    def encoder(length: int) -> int:
        return 8 * length * h * h + 4 * length * h * f + 4 * length * length * h

    state, actions, tokens = 5, 2, 3
    head = (
        4 * actions * tokens * state * h
        + 4 * actions * tokens * h
        + 2 * state * h
        + 8 * actions * tokens * h * h
        + 2 * actions * h
        + 2 * (128 * h + 128)
    )
    expected = encoder(state) + actions * encoder(tokens) + head
    assert bench_update.forward_flops(config, state, actions, tokens) == expected
    assert bench_update.update_flops(config, state, actions, tokens) == 3 * expected


def test_smoke_run_reports_every_step_and_writes_results(tmp_path, capsys):
    """Smoke size, no timing assertions; PyTorch's side only where torch is installed."""
    with_torch = importlib.util.find_spec("torch") is not None
    out = tmp_path / "bench_update_smoke"
    argv = ["--smoke", "--batches", "1", "--warmup", "0", "--repeats", "1", "--json"]
    argv += ["--peak-tflops", "1", "--out", str(out)] + ([] if with_torch else ["--no-torch"])
    assert bench_update.main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.with_suffix(".json").read_text()) == report
    assert out.with_suffix(".png").stat().st_size > 0
    assert report["command"].startswith("python -m jaxrec.experiments.bench_update --smoke")
    for key in ("cpu_model", "cpus", "jax", "flax", "jax_device", "load_average_before"):
        assert key in report["machine"]
    assert report["config"]["tiny"] and report["update_flops_per_sample"] > 0
    rows = report["results"]
    assert [(r["step"], r["batch"]) for r in rows] == [("imitation", 1), ("dpo", 1), ("ppo", 1)]
    for row in rows:
        assert row["jax_samples_per_s"] > 0 and row["jax_mfu"] > 0
        assert row["jax_compile_s"] >= 0 and row["jax_first_call_s"] > 0
    if not with_torch:
        return
    assert "torch" in report["machine"]
    for row in rows:
        for key in ("torch_samples_per_s", "ratio", "torch_mfu"):
            assert row[key] > 0, key
        # Same weights, same batch, same step history: the two frameworks' losses agree.
        assert row["torch_first_loss"] == pytest.approx(row["jax_first_loss"], abs=1e-4)
    assert set(report["summary"]["steps"]) == {"imitation", "dpo", "ppo"}
