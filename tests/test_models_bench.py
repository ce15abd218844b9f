"""The policy throughput benchmark runs end to end and reports sane numbers."""

from __future__ import annotations

import json

import pytest

from jaxrec.experiments import bench_policy


def test_smoke_benchmark_reports_every_config(capsys, tmp_path):
    out = tmp_path / "policy"
    argv = ["--smoke", "--json", "--batch-sizes", "1", "2", "--repeats", "1", "--out", str(out)]
    bench_policy.main(argv)
    report = json.loads(capsys.readouterr().out)
    assert json.loads(out.with_suffix(".json").read_text()) == report
    assert out.with_suffix(".png").stat().st_size > 0
    assert report["command"].endswith(" ".join(argv)) and report["cpus"] > 0
    rows = report["results"]
    assert [(r["batch"], r["state_len"]) for r in rows] == [(1, 32), (2, 32), (1, 64), (2, 64)]
    for row in rows:
        assert row["compile_s"] > 0 and row["step_s"] > 0
        assert row["states_per_s"] == pytest.approx(row["batch"] / row["step_s"], rel=2e-2)
        assert row["actions_per_s"] == pytest.approx(row["states_per_s"] * row["actions"], rel=1e-3)
