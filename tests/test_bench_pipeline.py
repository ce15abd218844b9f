"""The end-to-end benchmark runs the tiny pipeline and reports stage times and the target."""

from __future__ import annotations

import json

import pytest

from jaxrec.experiments import bench_pipeline


@pytest.mark.slow
def test_smoke_reports_stages_and_whether_the_target_was_reached(capsys, tmp_path):
    out = tmp_path / "pipeline"
    assert bench_pipeline.main(["--smoke", "--json", "--target=0", "--out", str(out)]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.with_suffix(".json").read_text()) == payload
    seconds = payload["seconds"]
    assert set(seconds) == {"setup", "warm_start", "trajectories_and_pairs", "dpo", "total"}
    assert seconds["total"] == pytest.approx(
        sum(v for k, v in seconds.items() if k != "total"), abs=0.3
    )
    # a target of 0 is reached at the first evaluated point, the end of the warm start
    assert payload["reached"]["stage"] == "warm_start"
    assert set(payload["held_out"]) == {"warm_start", "dpo"}
