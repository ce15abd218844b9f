"""Episodes per second of the online evaluator with a BERT policy arm, against a sequential loop.

    python -m jaxrec.experiments.bench_eval [--data DIR] [--tiny] [--batch-sizes 1,8,32,128]
        [--episodes 20] [--json] [--smoke] [--out experiments/results/bench_eval]

The evaluator (`jaxrec.eval.online.run_online`) plays rounds of B parallel episodes of
the greedy policy on the compiled store; the first round (compile included) is timed apart
from the steady rate (`jit_seconds`: that round's wall time; likewise the sequential loop's
first episode). The sequential loop is what the paper's evaluator did: one session
at a time in the reference store (`AgentEnv`), tokenizing each page and its capped actions
and calling the same jit'd policy on one state. Both use the same parameters, state and
action lengths and step limit. The ratio is evaluator episodes/s over sequential.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from jaxrec.data.cli import add_data_argument, catalog_dir
from jaxrec.data.splits import split_goals
from jaxrec.data.store_data import build_store_data
from jaxrec.env import CompileConfig, compile_store
from jaxrec.eval.arms import Arm, mix
from jaxrec.eval.online import run_online
from jaxrec.eval.policy_eval import policy_agent
from jaxrec.experiments.bench_report import environment, save
from jaxrec.models.factory import make_policy
from jaxrec.models.policy import ChoicePolicy, greedy
from jaxrec.models.tokenizer import WebShopTokenizer
from jaxrec.webshop.agent_view import MAX_OFFERED, AgentEnv, cap_actions
from jaxrec.webshop.store import WebShopStore


def bench_sequential(
    env: AgentEnv,
    policy: ChoicePolicy,
    tokenizer: WebShopTokenizer,
    goals: np.ndarray,
    config: CompileConfig,
    episodes: int,
    seed: int = 0,
) -> dict:
    """Episodes/s of the greedy policy played one session at a time in the reference store."""
    graphdef, params = nnx.split(policy)

    @jax.jit
    def choose(params, states, actions):
        output = nnx.merge(graphdef, params)(
            states.ids, states.mask, actions.ids, actions.token_mask, actions.action_mask
        )
        return greedy(output.log_probs)[0]

    rng = np.random.default_rng(seed)

    def play(goal: int) -> float:
        _, info = env.reset(goal_index=goal)
        while True:
            actions = cap_actions(info["valid_actions"], rng)
            states = tokenizer.encode_states([env.store.observation], config.state_len)
            # padded to the cap, so every page reuses one compiled forward pass
            offered = tokenizer.encode_actions([actions], config.action_len, MAX_OFFERED)
            slot = int(choose(params, states, offered))
            _, reward, done, info = env.step(actions[min(slot, len(actions) - 1)])
            if done:
                return reward

    start = time.perf_counter()
    play(int(goals[0]))  # compiles the forward pass
    jit_seconds = time.perf_counter() - start
    picked = rng.choice(goals, episodes)
    start = time.perf_counter()
    rewards = [play(int(g)) for g in picked]
    seconds = time.perf_counter() - start
    return {
        "episodes": episodes,
        "jit_seconds": jit_seconds,
        "episodes_per_second": episodes / seconds,
        "success": float(np.mean(np.asarray(rewards) == 1.0)),
    }


def bench_evaluator(tables, arm_set, goals: np.ndarray, batch: int, rounds: int, seed: int = 0):
    """Jit time (first round) and steady episodes/s of `rounds` rounds of `batch` sessions."""
    key = jax.random.PRNGKey(seed)
    start = time.perf_counter()
    run_online(tables, arm_set, goals, key, rollouts=batch, sessions=batch)
    jit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    run = run_online(tables, arm_set, goals, key, rollouts=batch * rounds, sessions=batch)
    seconds = time.perf_counter() - start
    return {
        "batch": batch,
        "rounds": rounds,
        "jit_seconds": jit_seconds,
        "episodes_per_second": len(run.reward) / seconds,
        "success": float(np.mean(run.reward == 1.0)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrec.experiments.bench_eval", description=__doc__.split("\n")[0]
    )
    add_data_argument(parser)
    parser.add_argument("--bert", default=None, help="BERT folder (default: MiniLM)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random BERT")
    parser.add_argument("--batch-sizes", default="1,8,32,128", help="evaluator sessions per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed evaluator rounds per B")
    parser.add_argument("--episodes", type=int, default=20, help="timed sequential episodes")
    parser.add_argument("--state-len", type=int, default=512)
    parser.add_argument("--action-len", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on the last line"
    )
    parser.add_argument("--out", default=None, help="write OUT.json (figures, machine, command)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tiny, args.batch_sizes, args.rounds, args.episodes = True, "4", 1, 2
        args.state_len, args.action_len, args.max_steps = 64, 16, 4
    config = CompileConfig(
        state_len=args.state_len, action_len=args.action_len, max_steps=args.max_steps
    )
    data = build_store_data(catalog_dir(args.data), seed=args.seed)
    goals = split_goals(data.goals, "product", seed=args.seed)["test"]
    policy, tokenizer = make_policy(args.bert, tiny=args.tiny, seed=args.seed)
    tables = compile_store(data, tokenizer, config)
    arm_set = mix([Arm("bert", policy_agent(policy), reads_tokens=True)])
    env = AgentEnv(WebShopStore.from_data(data), max_steps=args.max_steps)
    sequential = bench_sequential(env, policy, tokenizer, goals, config, args.episodes, args.seed)
    print(
        f"sequential reference loop: {sequential['episodes_per_second']:.2f} episodes/s "
        f"({sequential['episodes']} episodes; jit {sequential['jit_seconds']:.1f} s)"
    )
    print(f"{'B':>6} {'jit s':>7} {'episodes/s':>12} {'x sequential':>13}")
    rows = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        row = bench_evaluator(tables, arm_set, goals, batch, args.rounds, args.seed)
        row["ratio"] = row["episodes_per_second"] / sequential["episodes_per_second"]
        rows.append(row)
        print(
            f"{batch:>6} {row['jit_seconds']:>7.1f} {row['episodes_per_second']:>12.2f} "
            f"{row['ratio']:>12.1f}x"
        )
    payload = {
        **environment("jaxrec.experiments.bench_eval", argv),
        "model": "tiny" if args.tiny else (args.bert or "MiniLM"),
        "state_len": args.state_len,
        "action_len": args.action_len,
        "max_steps": args.max_steps,
        "sequential": sequential,
        "evaluator": rows,
        "best_ratio": max(r["ratio"] for r in rows),
    }
    save(payload, args.out, as_json=args.json, plot=_plot)
    return 0


def _plot(payload: dict, path: Path) -> None:
    """Episodes/s of the evaluator against B, with the sequential loop's line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    rows = payload["evaluator"]
    ax.plot([r["batch"] for r in rows], [r["episodes_per_second"] for r in rows], marker="o",
            label="evaluator (compiled store, B sessions per round)")  # fmt: skip
    ax.axhline(payload["sequential"]["episodes_per_second"], color="k", lw=1,
               label="sequential loop (reference store)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sessions per round (B)")
    ax.set_ylabel("episodes per second")
    ax.set_title(f"evaluator with the {payload['model']} policy ({payload['device']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
