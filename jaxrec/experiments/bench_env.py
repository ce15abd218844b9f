"""Throughput of the WebShop stores, measured the way the original was.

    python -m jaxrec.experiments.bench_env [--data DIR] [--steps 3000] [--json] [--smoke]
        [--batch-sizes 1,64,1024,4096] [--state-lens 512,256,128]

Drives the reference store with the golden recording's random policy (search the
instruction on the search page; otherwise a uniformly random clickable; after 15 actions,
buy if on an item page; new goal when an episode ends) and reports steps per second
overall, for search steps and click steps separately (search results are cached per
query, as a store serving repeated queries would; distinct-query search throughput is
reported apart), and resets per second, beside the
original WebShop's 38.8-41.9 steps/s on a 2-core machine like this one.

Then the compiled JAX store (`jaxrec.env`): the compile (build and save) and the load
from its cache, timed apart; per state length, with observation tokens rendered or not
(`render=False`: dynamics, reward and action mask only), and per batch size, the jit time
(trace + compile) and steps/s of random valid actions with auto-reset, `lax.scan` over
steps inside one jit and `vmap` over sessions; and its ratio to the reference store.
The reference agent pipeline (`AgentEnv` steps, the capped action list and tokenizing the
observation and actions, which is what the compiled store's rendered output equals) is
timed too, for a like-for-like ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from jaxrec.data.cli import add_data_argument, catalog_dir
from jaxrec.data.store_data import StoreData, build_store_data
from jaxrec.env import CompileConfig, StoreTables, compile_store, reset, step_auto_reset
from jaxrec.experiments.bench_report import environment, save
from jaxrec.models.tokenizer import WEBSHOP_TOKENS, WebShopTokenizer
from jaxrec.models.weights import default_bert_dir
from jaxrec.webshop.agent_view import AgentEnv, cap_actions
from jaxrec.webshop.store import WebShopStore

ORIGINAL_STEPS_PER_SECOND = (38.8, 41.9)
RANDOM_EPISODE_ACTIONS = 15


def bench_reference(store: WebShopStore, steps: int, seed: int = 0, progress: bool = True) -> dict:
    """Steps/s of the reference store under the recording's random policy."""
    rng = np.random.default_rng(seed)
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    taken = 0
    with tqdm(total=steps, desc="reference store", unit="step", disable=not progress) as bar:
        while taken < steps:
            goal = int(rng.integers(len(store.goals)))
            start = time.perf_counter()
            store.reset(goal_index=goal)
            seconds["reset"] += time.perf_counter() - start
            counts["reset"] += 1
            for action_number in range(RANDOM_EPISODE_ACTIONS + 1):
                page = store.page
                if page.has_search_bar:
                    kind, action = "search", f"search[{store.session.goal.instruction_text}]"
                elif action_number == RANDOM_EPISODE_ACTIONS:
                    if page.kind != "item":
                        break
                    kind, action = "click", "click[buy now]"
                else:
                    clickables = [c for c in page.clickables if c != "search"]
                    kind, action = (
                        "click",
                        f"click[{clickables[int(rng.integers(len(clickables)))]}]",
                    )
                start = time.perf_counter()
                _, _, done, _ = store.step(action)
                store.available_actions()
                seconds[kind] += time.perf_counter() - start
                counts[kind] += 1
                taken += 1
                bar.update(1)
                if done:
                    break
    total = seconds["search"] + seconds["click"]
    queries = [g.instruction_text for g in store.goals[:500]]
    start = time.perf_counter()
    for query in queries:  # distinct queries, bypassing the store's per-query cache
        store.index.search(" ".join(query.lower().split(" ")), k=50)
    uncached = len(queries) / (time.perf_counter() - start)
    return {
        "uncached_searches_per_second": uncached,
        "steps": taken,
        "steps_per_second": taken / total,
        "search_steps_per_second": counts["search"] / seconds["search"],
        "click_steps_per_second": counts["click"] / seconds["click"],
        "resets_per_second": counts["reset"] / seconds["reset"],
        "search_steps": counts["search"],
        "click_steps": counts["click"],
    }


def bench_agent_reference(
    store: WebShopStore,
    tokenizer: WebShopTokenizer,
    config: CompileConfig,
    steps: int,
    seed: int = 0,
) -> dict:
    """Steps/s of the reference agent pipeline: an `AgentEnv` step, its valid actions under
    WebShop's cap, and both tokenized (what one compiled-store step returns)."""
    env = AgentEnv(store, max_steps=config.max_steps)
    rng = np.random.default_rng(seed)
    taken, start = 0, time.perf_counter()
    while taken < steps:
        _, info = env.reset(goal_index=int(rng.integers(len(store.goals))))
        observation, done = store.observation, False
        while not done and taken < steps:
            actions = cap_actions(info["valid_actions"], rng)
            tokenizer.encode_states([observation], config.state_len)
            tokenizer.encode_actions([actions], config.action_len, max(len(actions), 1))
            observation, _, done, info = env.step(actions[int(rng.integers(len(actions)))])
            taken += 1
    return {"steps": taken, "steps_per_second": taken / (time.perf_counter() - start)}


def _random_rollout(
    tables: StoreTables, state, key: jax.Array, length: int, render: bool
) -> tuple[object, jax.Array]:
    """`length` steps of uniformly random valid actions for a batch of sessions."""
    batch_step = jax.vmap(partial(step_auto_reset, render=render), in_axes=(None, 0, 0))

    def body(carry, _):
        state, key = carry
        key, sub = jax.random.split(key)
        high = jnp.maximum(state.num_actions, 1)
        state, timestep = batch_step(tables, state, jax.random.randint(sub, high.shape, 0, high))
        digest = jnp.sum(timestep.reward)  # keeps every output alive
        if render:
            obs = timestep.observation
            digest += jnp.sum(obs.state_ids) + jnp.sum(obs.action_ids)
        return (state, key), digest

    (state, _), digests = jax.lax.scan(body, (state, key), None, length=length)
    return state, jnp.sum(digests)


def bench_compiled(
    tables: StoreTables, batch: int, render: bool, target_steps: int, seed: int = 0
) -> dict:
    """Jit time and steady-state steps/s of `batch` sessions for one configuration."""
    length = int(np.clip(target_steps // batch, 8, 2000))
    keys = jax.random.split(jax.random.PRNGKey(seed), batch)
    state, _ = jax.jit(jax.vmap(reset, in_axes=(None, 0)))(tables, keys)
    rollout = jax.jit(_random_rollout, static_argnums=(3, 4))
    start = time.perf_counter()
    compiled = rollout.lower(tables, state, jax.random.PRNGKey(seed), length, render).compile()
    jit_seconds = time.perf_counter() - start
    state, _ = jax.block_until_ready(compiled(tables, state, jax.random.PRNGKey(seed)))
    best = float("inf")
    for repeat in range(3):
        start = time.perf_counter()
        state, _ = jax.block_until_ready(compiled(tables, state, jax.random.PRNGKey(repeat)))
        best = min(best, time.perf_counter() - start)
    return {
        "batch": batch,
        "render": render,
        "state_len": tables.config.state_len,
        "scan_length": length,
        "jit_seconds": jit_seconds,
        "steps_per_second": batch * length / best,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.bench_env", description=__doc__.split("\n")[0]
    )
    add_data_argument(parser)
    parser.add_argument("--steps", type=int, default=3000, help="reference-store steps to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few steps only (CI)")
    parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    parser.add_argument(
        "--batch-sizes", default="1,64,1024,4096", help="compiled store: sessions per vmap"
    )
    parser.add_argument(
        "--state-lens", default="512,256,128", help="compiled store: observation lengths"
    )
    parser.add_argument(
        "--target-steps",
        type=int,
        default=200_000,
        help="compiled store: steps per timed call (about)",
    )
    parser.add_argument(
        "--agent-steps", type=int, default=1000, help="reference agent-pipeline steps to time"
    )
    parser.add_argument(
        "--out",
        default=None,
        help="write OUT.json (figures, machine, command) and OUT.png (throughput by batch size)",
    )
    args = parser.parse_args(argv)
    folder = catalog_dir(args.data)
    start = time.perf_counter()
    data = build_store_data(folder)
    store = WebShopStore.from_data(data)
    build_seconds = time.perf_counter() - start
    steps = 50 if args.smoke else args.steps
    reference = bench_reference(store, steps, args.seed, progress=not args.json)
    print(f"catalog {folder}: {len(store.products)} products; store built in {build_seconds:.2f} s")
    print(
        f"reference store: {reference['steps_per_second']:8.1f} steps/s "
        f"(search {reference['search_steps_per_second']:.1f}/s, click {reference['click_steps_per_second']:.1f}/s, "
        f"reset {reference['resets_per_second']:.1f}/s) over {reference['steps']} steps; "
        f"uncached search {reference['uncached_searches_per_second']:.1f}/s"
    )
    lo, hi = ORIGINAL_STEPS_PER_SECOND
    print(
        f"original WebShop (golden README, 2 cores): {lo}-{hi} steps/s -> reference is "
        f"{reference['steps_per_second'] / hi:.0f}-{reference['steps_per_second'] / lo:.0f}x faster"
    )
    compiled = _bench_compiled_store(args, data, store, reference["steps_per_second"])
    payload = {
        **environment("jaxrec.experiments.bench_env", argv),
        "build_seconds": build_seconds,
        "reference": reference,
        "original_steps_per_second": ORIGINAL_STEPS_PER_SECOND,
        **compiled,
    }
    save(payload, args.out, as_json=args.json, plot=_plot)
    return 0


def _plot(payload: dict, path: Path) -> None:
    """Steps/s against batch size per (state length, render), with the reference store's line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    configs = sorted({(r["state_len"], r["render"]) for r in payload["compiled"]}, reverse=True)
    for state_len, render in configs:
        rows = [
            r for r in payload["compiled"] if (r["state_len"], r["render"]) == (state_len, render)
        ]
        label = f"compiled, tokens {state_len}" if render else f"compiled, no tokens ({state_len})"
        batches = [r["batch"] for r in rows]
        rates = [r["steps_per_second"] for r in rows]
        ax.plot(batches, rates, marker="o", ls="-" if render else "--", label=label)
    ax.axhline(payload["reference"]["steps_per_second"], color="k", lw=1, label="reference store")
    ax.axhline(payload["agent_pipeline"]["steps_per_second"], color="gray", lw=1, ls=":",
               label="reference store + tokenizer")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sessions stepped in parallel (batch)")
    ax.set_ylabel("steps per second")
    ax.set_title(f"WebShop store throughput ({payload['device']}, {payload['cpus']} CPUs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _bench_compiled_store(
    args: argparse.Namespace, data: StoreData, store: WebShopStore, reference_rate: float
) -> dict:
    """Compile, load, then time every (state length, render, batch size); print a table."""
    batch_sizes = (4,) if args.smoke else tuple(int(b) for b in args.batch_sizes.split(","))
    state_lens = (128,) if args.smoke else tuple(int(n) for n in args.state_lens.split(","))
    renders = (True,) if args.smoke else (True, False)
    target = 2_000 if args.smoke else args.target_steps
    tokenizer = WebShopTokenizer.from_folder(default_bert_dir(), extra_tokens=WEBSHOP_TOKENS)
    config = CompileConfig(state_len=max(state_lens))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        compile_store(data, tokenizer, config, cache_dir=cache)
        compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        tables = jax.block_until_ready(compile_store(data, tokenizer, config, cache_dir=cache))
        load_seconds = time.perf_counter() - start
    agent = bench_agent_reference(
        store, tokenizer, config, 20 if args.smoke else args.agent_steps, args.seed
    )
    print(
        f"compiled store: compile (build + save) {compile_seconds:.2f} s, load from cache {load_seconds:.2f} s; "
        f"reference agent pipeline (step + capped actions + tokenize, state_len {config.state_len}): "
        f"{agent['steps_per_second']:.1f} steps/s"
    )
    print(
        f"{'state_len':>9} {'render':>6} {'batch':>6} {'jit s':>6} {'steps/s':>12} {'x store':>8} {'x agent':>8}"
    )
    rows = []
    for state_len in state_lens:
        sized = tables.replace(config=dataclasses.replace(tables.config, state_len=state_len))
        for render in renders:
            for batch in batch_sizes:
                row = bench_compiled(sized, batch, render, target, args.seed)
                row["ratio"] = row["steps_per_second"] / reference_rate
                row["ratio_agent_pipeline"] = row["steps_per_second"] / agent["steps_per_second"]
                rows.append(row)
                print(
                    f"{state_len:>9} {str(render):>6} {batch:>6} {row['jit_seconds']:>6.1f} "
                    f"{row['steps_per_second']:>12,.0f} {row['ratio']:>7.1f}x {row['ratio_agent_pipeline']:>7.0f}x"
                )
    full = [r for r in rows if r["render"] and r["state_len"] == max(state_lens)]
    best = max(rows, key=lambda r: r["ratio"])
    summary = {
        "compile_seconds": compile_seconds,
        "load_seconds": load_seconds,
        "agent_pipeline": agent,
        "compiled": rows,
        "best_ratio": best["ratio"],
        "best_ratio_config": {k: best[k] for k in ("state_len", "render", "batch")},
        "best_ratio_rendered": max(r["ratio"] for r in full),
        "best_ratio_agent_pipeline": max(r["ratio_agent_pipeline"] for r in full),
    }
    print(
        f"best ratio to the reference store: {summary['best_ratio']:.1f}x ({summary['best_ratio_config']}); "
        f"with observation tokens at state_len {max(state_lens)}: {summary['best_ratio_rendered']:.1f}x "
        f"(vs the reference agent pipeline: {summary['best_ratio_agent_pipeline']:.0f}x)"
    )
    return summary


if __name__ == "__main__":
    sys.exit(main())
