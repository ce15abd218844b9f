"""What every benchmark records beside its figures, and how it writes them.

A figure is only worth keeping with the command, machine, versions and load it was taken
under; `environment` gathers those, `save` writes `<out>.json` (and `<out>.png`).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np


def cpu_model() -> str:
    """The CPU's marketing name where Linux tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(module: str, argv: Sequence[str] | None) -> dict[str, Any]:
    """The command line as typed, the machine, library versions and the current load."""
    import flax
    import jaxlib
    import optax

    return {
        "command": f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "device": str(jax.devices()[0]),
        # thread settings from the environment, when set (a single-threaded comparison)
        **{k: os.environ[k] for k in ("XLA_FLAGS", "OMP_NUM_THREADS") if k in os.environ},
    }


def save(
    payload: dict[str, Any],
    out: str | Path | None,
    *,
    as_json: bool = False,
    plot: Callable[[dict[str, Any], Path], None] | None = None,
) -> None:
    """Write `<out>.json` (and `<out>.png` with `plot`) when `out` is given; print the JSON
    object on one line with `as_json`."""
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{out}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        if plot:
            plot(payload, Path(f"{out}.png"))
        print(f"wrote {out}.json" + (f" and {out}.png" if plot else ""), file=sys.stderr)
    if as_json:
        print(json.dumps(payload))
