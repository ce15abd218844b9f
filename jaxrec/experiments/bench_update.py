"""Throughput of one update step (imitation, DPO, PPO): jit'd JAX against the PyTorch twin.

    python -m jaxrec.experiments.bench_update [--tiny] [--batches 1,4,16] [--state-len 128]
        [--action-len 32] [--actions 10] [--dtype float32|bfloat16] [--device cpu|cuda]
        [--peak-tflops T] [--json] [--smoke] [--out experiments/results/bench_update_cpu]

Per step kind and batch size: the JAX step (`imitation_step`, `dpo_step`, `ppo_step`, each
`nnx.jit`'d) is called once to compile (its compile time is that first call less one
steady-state step), `--warmup` more times, then `--repeats` timed calls, each waited on;
the median is the step time. The PyTorch twin (`jaxrec.experiments.torch_policy`: same
BERT config, same bi-attention head and losses, AdamW with the same global-norm clipping,
weights copied from the JAX policy) gets the same batch and the same number of calls.
Both start from the same weights and take the same steps, so their first losses of each
row agree (printed as a check). Samples are states (one decision with all its candidate
actions). Throughput is samples/s; the ratio is JAX / PyTorch. The process CPU time of a
step (all threads) is recorded too, with its PyTorch / JAX ratio: on a machine shared with
other work, wall time swings with the load while CPU time moves much less.

Model FLOPs per sample count the matmuls of the BERT passes (the state once, every action
slot once: padded slots cost the same as real ones), the bi-attention head and the critic;
an update is forward + backward = 3 x forward. `--peak-tflops` turns them into MFU.

JAX runs on its default backend (`JAX_PLATFORMS=cuda` / `cpu` to choose); `--device` picks
PyTorch's. bfloat16 is JAX's `BertConfig(dtype="bfloat16")` and PyTorch's `torch.autocast`,
both over float32 parameters. The default model is the pretrained all-MiniLM-L6-v2 (with
WebShop's added tokens) via `make_policy()`; `--tiny` uses a random 2-layer, 32-wide BERT.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxrec.experiments.bench_report import environment, save
from jaxrec.models.bert import Bert
from jaxrec.models.config import BertConfig
from jaxrec.models.factory import make_policy
from jaxrec.models.policy import ChoicePolicy
from jaxrec.train.batching import ChoiceBatch
from jaxrec.train.dpo import dpo_step
from jaxrec.train.imitation import imitation_step, make_optimizer
from jaxrec.train.ppo_update import PPOBatch, PPOConfig, ppo_step

STEPS = ("imitation", "dpo", "ppo")
TARGET_RATIO = 2.0  # issue 7: jit'd DPO / PPO updates at least 2x PyTorch on the same device


@dataclass(frozen=True)
class BenchConfig:
    """What to measure."""

    batches: tuple[int, ...] = (1, 4, 16)
    state_len: int = 128
    action_len: int = 32
    actions: int = 10
    steps: tuple[str, ...] = STEPS
    warmup: int = 1
    repeats: int = 3
    dtype: str = "float32"
    device: str = "cpu"  # PyTorch's device
    tiny: bool = False
    bert: str | None = None
    torch: bool = True
    peak_tflops: float | None = None
    learning_rate: float = 1e-5
    beta: float = 0.1
    seed: int = 0


def forward_flops(config: BertConfig, state_len: int, actions: int, action_len: int) -> float:
    """Matmul FLOPs (2 per multiply-add) of one policy forward pass for one state.

    Per encoder layer and sequence of length L: the Q, K, V and output projections
    (8·L·h²), the feed-forward pair (4·L·h·f) and the two attention products (4·L²·h).
    The head: the cross scores and o1 (2 · 2·A·T·S·h), the two scalar projections, o2,
    the 4h -> h layer and the score; the critic on [CLS]. Embedding gathers, LayerNorms,
    softmaxes and activations are left out (well under 1%).
    """
    h, f, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers

    def encoder(length: int) -> float:
        return n * (8 * length * h * h + 4 * length * h * f + 4 * length * length * h)

    tokens = actions * action_len
    head = (
        4 * tokens * state_len * h  # cross scores, then o1
        + 2 * tokens * h  # context_weight
        + 2 * state_len * h  # memory_weight
        + 2 * tokens * h  # o2 pooling
        + 2 * tokens * 4 * h * h  # hidden: Linear(4h -> h)
        + 2 * actions * h  # score
        + 2 * (h * 128 + 128)  # critic
    )
    return float(encoder(state_len) + actions * encoder(action_len) + head)


def update_flops(config: BertConfig, state_len: int, actions: int, action_len: int) -> float:
    """FLOPs of one update per state: forward plus backward, taken as 3 x forward."""
    return 3.0 * forward_flops(config, state_len, actions, action_len)


def random_batch(
    rng: np.random.Generator, vocab: int, batch: int, state_len: int, actions: int, tokens: int
) -> ChoiceBatch:
    """Random ids with every position real (cost does not depend on the mask values)."""
    return ChoiceBatch(
        state_ids=rng.integers(1, vocab, (batch, state_len), dtype=np.int32),
        state_mask=np.ones((batch, state_len), np.int32),
        action_ids=rng.integers(1, vocab, (batch, actions, tokens), dtype=np.int32),
        action_token_mask=np.ones((batch, actions, tokens), np.int32),
        action_mask=np.ones((batch, actions), np.int32),
        gold=rng.integers(0, actions, batch, dtype=np.int32),
    )


def step_inputs(rng: np.random.Generator, batch: ChoiceBatch) -> dict[str, dict[str, np.ndarray]]:
    """The extra arrays of the DPO and PPO steps, random but well-formed."""
    size, actions = batch.action_mask.shape
    uniform = -np.log(actions)
    return {
        "dpo": {
            "rejected": ((batch.gold + 1) % actions).astype(np.int32),
            "ref_chosen": (uniform + 0.1 * rng.standard_normal(size)).astype(np.float32),
            "ref_rejected": (uniform + 0.1 * rng.standard_normal(size)).astype(np.float32),
            "weights": np.ones(size, np.float32),
        },
        "ppo": {
            "old_log_probs": (uniform + 0.1 * rng.standard_normal(size)).astype(np.float32),
            "advantages": rng.standard_normal(size).astype(np.float32),
            "returns": rng.standard_normal(size).astype(np.float32),
        },
    }


def _loss(metrics) -> float:
    return float(metrics["loss"] if isinstance(metrics, dict) else metrics)


def _time_calls(call: Callable[[], object], sync: Callable[[object], float], config: BenchConfig):
    """(first call s, first loss, median step s, median step CPU s) over 1 + warmup + repeats
    calls. CPU time is the whole process's (all threads): on a machine shared with other
    work it moves far less than wall time does."""
    start = time.perf_counter()
    first_loss = sync(call())
    first = time.perf_counter() - start
    for _ in range(config.warmup):
        sync(call())
    times, cpu_times = [], []
    for _ in range(config.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        sync(call())
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return first, first_loss, statistics.median(times), statistics.median(cpu_times)


def jax_calls(policy: ChoicePolicy, optimizer: nnx.Optimizer, batch: ChoiceBatch, extra: dict):
    """One zero-argument callable per step kind, running the jit'd JAX update."""
    dpo, ppo = extra["dpo"], extra["ppo"]
    ppo_batch = PPOBatch(
        *batch[:5], actions=batch.gold, **{k: jnp.asarray(v) for k, v in ppo.items()}
    )
    batch = jax.tree.map(jnp.asarray, batch)  # on the device once, as a training loop holds it
    beta = jnp.float32(extra["beta"])
    dpo_args = [jnp.asarray(dpo[k]) for k in ("rejected", "ref_chosen", "ref_rejected")]
    ppo_batch = jax.tree.map(jnp.asarray, ppo_batch)
    weights = jnp.asarray(dpo["weights"])
    return {
        "imitation": lambda: imitation_step(policy, optimizer, batch),
        "dpo": lambda: dpo_step(policy, optimizer, batch, *dpo_args, beta, weights),
        "ppo": lambda: ppo_step(policy, optimizer, ppo_batch, PPOConfig()),
    }


def torch_calls(trainer, batch: ChoiceBatch, extra: dict, device: str):
    """The same steps on the PyTorch twin."""
    from jaxrec.experiments.torch_policy import to_torch

    inputs = to_torch(batch, device)
    dpo = to_torch(extra["dpo"], device)
    ppo_inputs = {**inputs, "actions": inputs["gold"], **to_torch(extra["ppo"], device)}
    return {
        "imitation": lambda: trainer.imitation_step(inputs),
        "dpo": lambda: trainer.dpo_step(
            inputs,
            dpo["rejected"],
            dpo["ref_chosen"],
            dpo["ref_rejected"],
            extra["beta"],
            dpo["weights"],
        ),
        "ppo": lambda: trainer.ppo_step(ppo_inputs, PPOConfig()),
    }


def build_policy(config: BenchConfig) -> ChoicePolicy:
    """MiniLM (or `--bert`) via `make_policy`, or the tiny random one, in `config.dtype`."""
    policy, _ = make_policy(config.bert, tiny=config.tiny, seed=config.seed)
    if config.dtype == policy.encoder.config.dtype:
        return policy
    rngs = nnx.Rngs(config.seed)
    encoder = Bert(policy.encoder.config.replace(dtype=config.dtype), rngs=rngs)
    recast = ChoicePolicy(encoder, rngs=rngs)
    nnx.update(recast, nnx.state(policy, nnx.Param))
    return recast


def run(config: BenchConfig, progress: Callable[[str], None] = lambda _: None) -> dict:
    """All rows (step kind x batch size) and the model's FLOPs per sample."""
    policy = build_policy(config)
    bert_config = policy.encoder.config
    if config.state_len > bert_config.max_position_embeddings:
        raise ValueError(f"state_len {config.state_len} exceeds the model's positions")
    optimizer = make_optimizer(policy, config.learning_rate)
    trainer = None
    if config.torch:
        from jaxrec.experiments import torch_policy

        torch = torch_policy.require_torch()
        if config.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda, but torch sees no CUDA device")
        model = torch_policy.from_jax(policy, device=config.device)
        trainer = torch_policy.TorchTrainer(model, config.learning_rate, dtype=config.dtype)

        def torch_sync(out) -> float:
            return _loss(out) if isinstance(out, dict) else float(out)  # .item() waits

    flops = update_flops(bert_config, config.state_len, config.actions, config.action_len)
    peak = config.peak_tflops * 1e12 if config.peak_tflops else None
    rng = np.random.default_rng(config.seed)
    rows = []
    for batch_size in config.batches:
        batch = random_batch(
            rng,
            bert_config.vocab_size,
            batch_size,
            config.state_len,
            config.actions,
            config.action_len,
        )
        extra = {**step_inputs(rng, batch), "beta": config.beta}
        jax_steps = jax_calls(policy, optimizer, batch, extra)
        torch_steps = torch_calls(trainer, batch, extra, config.device) if trainer else {}
        for kind in config.steps:
            first, jax_loss, step_s, cpu_s = _time_calls(
                jax_steps[kind], lambda out: _loss(jax.block_until_ready(out)), config
            )
            row = {
                "step": kind,
                "batch": batch_size,
                "jax_compile_s": round(max(first - step_s, 0.0), 3),
                "jax_first_call_s": round(first, 3),
                "jax_step_s": step_s,
                "jax_step_cpu_s": cpu_s,
                "jax_samples_per_s": batch_size / step_s,
                "jax_first_loss": jax_loss,
            }
            if peak:
                row["jax_mfu"] = flops * row["jax_samples_per_s"] / peak
            if trainer:
                first, torch_loss, step_s, cpu_s = _time_calls(
                    torch_steps[kind], torch_sync, config
                )
                row |= {
                    "torch_first_call_s": round(first, 3),
                    "torch_step_s": step_s,
                    "torch_step_cpu_s": cpu_s,
                    "torch_samples_per_s": batch_size / step_s,
                    "torch_first_loss": torch_loss,
                    "ratio": row["jax_samples_per_s"] / (batch_size / step_s),
                    "ratio_cpu_time": cpu_s / row["jax_step_cpu_s"],
                }
                if peak:
                    row["torch_mfu"] = flops * row["torch_samples_per_s"] / peak
            rows.append(row)
            progress(_format_row(row))
    return {
        "model": {
            "name": "tiny (random)" if config.tiny else str(config.bert or "all-MiniLM-L6-v2"),
            **asdict(bert_config),
            "parameters": int(
                sum(np.prod(v.shape) for v in jax.tree.leaves(nnx.state(policy, nnx.Param)))
            ),
        },
        "forward_flops_per_sample": forward_flops(
            bert_config, config.state_len, config.actions, config.action_len
        ),
        "update_flops_per_sample": flops,
        "results": rows,
        "summary": _summary(rows),
    }


def _summary(rows: list[dict]) -> dict:
    """Per step kind: the JAX/PyTorch ratio at each batch size, and the 2x target check."""
    summary = {}
    for kind in STEPS:
        mine = [r for r in rows if r["step"] == kind and "ratio" in r]
        if mine:
            summary[kind] = {
                "ratio_by_batch": {str(r["batch"]): round(r["ratio"], 3) for r in mine},
                "cpu_time_ratio_by_batch": {
                    str(r["batch"]): round(r["ratio_cpu_time"], 3) for r in mine
                },
                "best_ratio": round(max(r["ratio"] for r in mine), 3),
                "meets_target": all(r["ratio"] >= TARGET_RATIO for r in mine),
            }
    return {"target_ratio": TARGET_RATIO, "steps": summary}


_HEADER = (
    f"{'step':>9} {'batch':>5} {'jax compile s':>13} {'jax step s':>10} {'jax samp/s':>10} "
    f"{'torch step s':>12} {'torch samp/s':>12} {'jax/torch':>9} {'cpu-time':>8} {'loss jax':>9} "
    f"{'loss torch':>10}"
)


def _format_row(row: dict) -> str:
    torch_part = (
        f"{row['torch_step_s']:>12.4f} {row['torch_samples_per_s']:>12.2f} {row['ratio']:>8.2f}x "
        f"{row['ratio_cpu_time']:>7.2f}x "
        f"{row['jax_first_loss']:>9.4f} {row['torch_first_loss']:>10.4f}"
        if "ratio" in row
        else f"{'-':>12} {'-':>12} {'-':>9} {'-':>8} {row['jax_first_loss']:>9.4f} {'-':>10}"
    )
    mfu = ""
    if "jax_mfu" in row:
        mfu = f"  MFU jax {row['jax_mfu']:.2%}"
        if "torch_mfu" in row:
            mfu += f" torch {row['torch_mfu']:.2%}"
    return (
        f"{row['step']:>9} {row['batch']:>5} {row['jax_compile_s']:>13.2f} "
        f"{row['jax_step_s']:>10.4f} {row['jax_samples_per_s']:>10.2f} {torch_part}{mfu}"
    )


def machine(config: BenchConfig, argv: Sequence[str] | None) -> dict:
    """Where and with what the figures were taken (PyTorch's side as well)."""
    info = environment("jaxrec.experiments.bench_update", argv)
    info |= {"jax_device": info.pop("device"), "jax_backend": jax.default_backend()}
    if config.torch:
        import torch

        info |= {
            "torch": torch.__version__,
            "torch_device": config.device,
            "torch_threads": torch.get_num_threads(),
        }
        if config.device == "cuda":
            info["torch_device_name"] = torch.cuda.get_device_name()
    return info


def _plot(payload: dict, path: Path) -> None:
    """Samples/s against batch size, one panel per step kind, JAX solid, PyTorch dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in STEPS if any(r["step"] == k for r in payload["results"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = [r for r in payload["results"] if r["step"] == kind]
        batches = [r["batch"] for r in rows]
        ax.plot(batches, [r["jax_samples_per_s"] for r in rows], "o-", label="JAX (jit)")
        if all("torch_samples_per_s" in r for r in rows):
            ax.plot(batches, [r["torch_samples_per_s"] for r in rows], "s--", label="PyTorch")
            for r in rows:
                ax.annotate(
                    f"{r['ratio']:.2f}x",
                    (r["batch"], r["jax_samples_per_s"]),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch (states)")
        ax.set_title(f"{kind} update")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("samples per second")
    axes[0][0].legend(fontsize=8)
    config, info = payload["config"], payload["machine"]
    fig.suptitle(
        f"{payload['model']['name']}, {config['dtype']}, state {config['state_len']}, "
        f"{config['actions']} actions x {config['action_len']} tokens; "
        f"JAX {info['jax_device']}, torch {info.get('torch_device', '-')}, "
        f"{info['cpus']} CPUs, load {info['load_average_before'][0]:.1f}, threads: torch "
        f"{info.get('torch_threads', '-')}, XLA "
        f"{1 if 'intra_op_parallelism_threads=1' in info.get('XLA_FLAGS', '') else 'all'}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(",", " ").split())


def parse_config(argv: list[str] | None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.bench_update", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tiny", action="store_true", help="random 2-layer, 32-wide BERT")
    parser.add_argument("--bert", help="pretrained BERT folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--batches", type=_ints, help="batch sizes, e.g. 1,4,16")
    parser.add_argument("--state-len", type=int)
    parser.add_argument("--action-len", type=int)
    parser.add_argument("--actions", type=int, help="action slots per state")
    parser.add_argument("--steps", type=lambda s: tuple(s.split(",")), help="imitation,dpo,ppo")
    parser.add_argument("--warmup", type=int, help="untimed calls after the first")
    parser.add_argument("--repeats", type=int, help="timed calls (the median is kept)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"))
    parser.add_argument("--device", choices=("cpu", "cuda"), help="PyTorch's device")
    parser.add_argument("--peak-tflops", type=float, help="device peak, for MFU")
    parser.add_argument("--no-torch", action="store_true", help="time JAX only")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--smoke", action="store_true", help="tiny model and shapes (CI)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--out", help="write OUT.json (figures, machine, command) and OUT.png")
    args = parser.parse_args(argv)
    defaults = (
        BenchConfig(
            batches=(1, 2), state_len=16, action_len=8, actions=3, warmup=1, repeats=2, tiny=True
        )
        if args.smoke
        else BenchConfig(tiny=args.tiny)
    )
    overrides = {
        name: value
        for name, value in vars(args).items()
        if name in {f.name for f in dataclasses.fields(BenchConfig)} and value is not None
    }
    overrides["tiny"] = defaults.tiny or args.tiny
    if args.no_torch:
        overrides["torch"] = False
    config = dataclasses.replace(defaults, **overrides)
    unknown = set(config.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown --steps {sorted(unknown)}; choose from {STEPS}")
    return config, args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_config(argv)
    info = machine(config, argv)
    command, load_before = info.pop("command"), info.pop("load_average")
    say = (lambda _: None) if args.json else print
    say(
        f"JAX {info['jax_device']} | PyTorch {info.get('torch_device', 'off')} "
        f"({info.get('torch_threads', '-')} threads) | {info['cpu_model']}, {info['cpus']} CPUs | "
        f"dtype {config.dtype} | state {config.state_len}, {config.actions} actions x "
        f"{config.action_len} tokens | load {load_before[0]:.2f}"
    )
    say(_HEADER)
    figures = run(config, progress=say)
    payload = {
        "command": command,
        "config": asdict(config),
        "machine": {
            **info,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        **figures,
    }
    say(
        f"model FLOPs per sample: forward {figures['forward_flops_per_sample'] / 1e9:.3f} G, "
        f"update {figures['update_flops_per_sample'] / 1e9:.3f} G"
    )
    for kind, entry in figures["summary"]["steps"].items():
        say(
            f"{kind}: JAX/PyTorch {entry['ratio_by_batch']} "
            f"(target >= {TARGET_RATIO}x: {'met' if entry['meets_target'] else 'not met'})"
        )
    save(payload, args.out, as_json=args.json, plot=_plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
