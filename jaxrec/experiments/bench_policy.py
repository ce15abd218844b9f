"""Throughput of the choice policy's jit'd forward pass.

    python -m jaxrec.experiments.bench_policy [--json] [--smoke] [--dtype bfloat16]

For each batch size and state length: compile time (lower + compile, reported on its own),
then the median of timed steady-state calls after one warm-up call, as states/s and
actions/s. Uses the pretrained folder's config (all-MiniLM-L6-v2 by default) with
random weights, which run exactly as fast as real ones; `--smoke` uses `BertConfig.tiny()`
and tiny shapes and finishes in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from jaxrec.experiments.bench_report import environment, save
from jaxrec.models.bert import Bert
from jaxrec.models.config import BertConfig
from jaxrec.models.policy import ChoicePolicy
from jaxrec.models.tokenizer import WEBSHOP_TOKENS
from jaxrec.models.weights import default_bert_dir


@dataclass(frozen=True)
class BenchConfig:
    """What to measure."""

    batch_sizes: tuple[int, ...] = (1, 4, 16)
    state_lens: tuple[int, ...] = (128, 256, 512)
    num_actions: int = 10
    action_len: int = 64
    repeats: int = 3
    dtype: str = "float32"
    smoke: bool = False


def random_inputs(
    rng: np.random.Generator, vocab: int, batch: int, state_len: int, actions: int, tokens: int
) -> tuple[np.ndarray, ...]:
    """Random ids with every position real: the cost does not depend on the mask values."""
    return (
        rng.integers(1, vocab, (batch, state_len), dtype=np.int32),
        np.ones((batch, state_len), np.int32),
        rng.integers(1, vocab, (batch, actions, tokens), dtype=np.int32),
        np.ones((batch, actions, tokens), np.int32),
        np.ones((batch, actions), np.int32),
    )


def run(config: BenchConfig) -> list[dict]:
    """One result row per (batch size, state length)."""
    if config.smoke:
        bert_config = BertConfig.tiny(dtype=config.dtype)
    else:
        bert_config = BertConfig.from_json(default_bert_dir(), dtype=config.dtype)
        bert_config = bert_config.replace(vocab_size=bert_config.vocab_size + len(WEBSHOP_TOKENS))
    rngs = nnx.Rngs(0)
    graphdef, params = nnx.split(ChoicePolicy(Bert(bert_config, rngs=rngs), rngs=rngs))

    @jax.jit
    def forward(params: nnx.State, *inputs: jax.Array) -> jax.Array:
        output = nnx.merge(graphdef, params)(*inputs)
        return output.log_probs, output.values

    rng = np.random.default_rng(0)
    rows = []
    for state_len in config.state_lens:
        for batch in config.batch_sizes:
            inputs = random_inputs(
                rng, bert_config.vocab_size, batch, state_len, config.num_actions, config.action_len
            )
            start = time.perf_counter()
            compiled = forward.lower(params, *inputs).compile()
            compile_s = time.perf_counter() - start
            jax.block_until_ready(compiled(params, *inputs))  # warm-up, not timed
            times = []
            for _ in range(config.repeats):
                start = time.perf_counter()
                jax.block_until_ready(compiled(params, *inputs))
                times.append(time.perf_counter() - start)
            step_s = statistics.median(times)
            rows.append(
                {
                    "batch": batch,
                    "state_len": state_len,
                    "actions": config.num_actions,
                    "action_len": config.action_len,
                    "compile_s": round(compile_s, 3),
                    "step_s": round(step_s, 6),
                    "states_per_s": round(batch / step_s, 2),
                    "actions_per_s": round(batch * config.num_actions / step_s, 2),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--smoke", action="store_true", help="tiny model and shapes")
    parser.add_argument("--batch-sizes", type=int, nargs="+")
    parser.add_argument("--state-lens", type=int, nargs="+")
    parser.add_argument("--num-actions", type=int)
    parser.add_argument("--action-len", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"))
    parser.add_argument("--out", help="write OUT.json and OUT.png (states/s against batch)")
    args = parser.parse_args(argv)

    defaults = (
        BenchConfig(
            batch_sizes=(1, 4), state_lens=(32, 64), num_actions=4, action_len=16, smoke=True
        )
        if args.smoke
        else BenchConfig()
    )
    overrides = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in vars(args).items()
        if name not in ("json", "smoke", "out") and value is not None
    }
    config = BenchConfig(**{**asdict(defaults), **overrides})
    rows = run(config)
    payload = {
        **environment("jaxrec.experiments.bench_policy", argv),
        "config": asdict(config),
        "results": rows,
    }
    save(payload, args.out, as_json=args.json, plot=_plot)
    if args.json:
        return
    print(
        f"device {payload['device']}, jax {payload['jax']}, {payload['cpus']} CPUs, "
        f"dtype {config.dtype}, {config.num_actions} actions x {config.action_len} tokens"
    )
    print(
        f"{'batch':>5} {'state_len':>9} {'compile_s':>9} {'step_s':>9} {'states/s':>9} {'actions/s':>10}"
    )
    for row in rows:
        print(
            f"{row['batch']:>5} {row['state_len']:>9} {row['compile_s']:>9.2f} "
            f"{row['step_s']:>9.4f} {row['states_per_s']:>9.1f} {row['actions_per_s']:>10.1f}"
        )


def _plot(payload: dict, path: Path) -> None:
    """States/s against batch size, one line per state length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for state_len in sorted({r["state_len"] for r in payload["results"]}):
        rows = [r for r in payload["results"] if r["state_len"] == state_len]
        ax.plot([r["batch"] for r in rows], [r["states_per_s"] for r in rows], marker="o",
                label=f"state {state_len} tokens")  # fmt: skip
    config = payload["config"]
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch (states)")
    ax.set_ylabel("states per second (forward)")
    ax.set_title(
        f"choice policy forward, {config['num_actions']} actions x {config['action_len']} "
        f"tokens ({payload['device']})"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
