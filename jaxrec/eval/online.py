"""The online evaluator: rounds of B parallel shopping sessions, arms chosen by Thompson sampling.

Each round draws B goals (uniformly, with replacement) from the split, gives each session
an arm by a Thompson draw from the current posteriors (`jaxrec.eval.thompson`), plays all
B episodes to the end in one compiled rollout (`ArmSet` mixes the arms, so the rollout is
compiled once for the whole run) and adds the episodes to the posteriors. The paper's
sequential evaluator is the case B = 1. The fixed-allocation control instead plays every
arm on the same goals: B // arms goals per round, each once per arm.

A run stops once `rollouts` episodes are played (whole rounds: rounded up) or, when a
`threshold` is set, once an arm's probability of being best passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrec.env import StoreTables
from jaxrec.eval import thompson
from jaxrec.eval.arms import ArmSet
from jaxrec.eval.policy_eval import summarize
from jaxrec.train.generate import rollout


class OnlineRun(NamedTuple):
    """Every episode of one run in play order, and the probability of best after each round."""

    names: tuple[str, ...]
    arm: np.ndarray  # (episodes,) int32
    goal: np.ndarray  # (episodes,) int32
    reward: np.ndarray  # (episodes,) float32
    steps: np.ndarray  # (episodes,) int actions taken
    round_end: np.ndarray  # (rounds,) int episodes played by the end of each round
    prob_best: np.ndarray  # (rounds, arms) after each round
    stopped: str  # "rollouts" or "threshold"


def round_size(arms: int, sessions: int, mode: thompson.Mode) -> int:
    """Episodes per round: B, or in the fixed mode the B // arms goals times the arms."""
    return sessions if mode == "thompson" else sessions // arms * arms


def round_plan(
    key: jax.Array,
    posterior: thompson.Posterior,
    goals: jax.Array,
    sessions: int,
    mode: thompson.Mode,
    metric: thompson.Metric,
) -> tuple[jax.Array, jax.Array]:
    """(goal, arm) per session of one round; the fixed mode tiles B // arms goals per arm."""
    goal_key, assign_key = jax.random.split(key)
    arms = posterior.success_alpha.shape[0]
    size = round_size(arms, sessions, mode)
    distinct = size if mode == "thompson" else size // arms
    goal = jnp.resize(jax.random.choice(goal_key, goals, (distinct,)), size)  # fixed: tiled
    return goal, thompson.allocate(assign_key, posterior, size, mode, metric)


def run_online(
    tables: StoreTables,
    arm_set: ArmSet,
    goals: Sequence[int],
    key: jax.Array,
    *,
    rollouts: int,
    sessions: int,
    mode: thompson.Mode = "thompson",
    metric: thompson.Metric = "success",
    threshold: float | None = None,
    max_steps: int | None = None,
    draws: int = 4000,
    on_round: Callable[[int], Any] | None = None,
) -> OnlineRun:
    """Play rounds until `rollouts` episodes or the `threshold` (see the module docstring).

    `on_round` is called with each round's episode count (a progress bar's `update`).
    """
    count = len(arm_set.names)
    if mode == "fixed" and sessions < count:
        raise ValueError(
            f"the fixed mode needs at least one session per arm ({count}), got {sessions}"
        )
    if not len(goals):
        raise ValueError("the online evaluator needs at least one goal")
    pool = jnp.asarray(goals, jnp.int32)
    posterior = thompson.init(count)
    history: list[tuple[np.ndarray, ...]] = []
    ends: list[int] = []
    bests: list[np.ndarray] = []
    played, stopped = 0, "rollouts"
    while played < rollouts:
        key, plan_key, play_key, best_key = jax.random.split(key, 4)
        goal, arm = round_plan(plan_key, posterior, pool, sessions, mode, metric)
        batch = rollout(
            tables,
            arm_set.agent(arm),
            goal,
            play_key,
            max_steps=max_steps,
            render=arm_set.reads_tokens,
        )
        reward = batch.reward.sum(axis=1)  # only the buying step is rewarded
        posterior = thompson.update(posterior, arm, jnp.asarray(reward == 1.0), jnp.asarray(reward))
        best = np.asarray(thompson.prob_best(best_key, posterior, draws, metric))
        history.append((np.asarray(arm), batch.goal, reward, (batch.action >= 0).sum(axis=1)))
        played += len(reward)
        ends.append(played)
        bests.append(best)
        if on_round is not None:
            on_round(len(reward))
        if threshold is not None and best.max() > threshold:
            stopped = "threshold"
            break
    arm, goal, reward, steps = (np.concatenate(x) for x in zip(*history, strict=True))
    return OnlineRun(
        arm_set.names, arm, goal, reward, steps, np.asarray(ends), np.stack(bests), stopped
    )


def running_figures(run: OnlineRun) -> dict[str, np.ndarray]:
    """(rounds, arms) running episodes, success rate and score (0-100) per arm at each round's
    end, and (rounds,) cumulative regret (`report`'s definition)."""
    one_hot = np.eye(len(run.names))[run.arm]
    episodes = np.cumsum(one_hot, 0)[run.round_end - 1]
    wins = np.cumsum(one_hot * (run.reward == 1.0)[:, None], 0)[run.round_end - 1]
    points = np.cumsum(one_hot * run.reward[:, None], 0)[run.round_end - 1]
    seen = np.maximum(episodes, 1)
    with np.errstate(invalid="ignore"):
        success = np.where(episodes > 0, wins / seen, np.nan)
        score = np.where(episodes > 0, 100 * points / seen, np.nan)
    return {
        "rollouts": run.round_end,
        "episodes": episodes,
        "success": success,
        "score": score,
        "regret": _regret(run.names, run.arm, run.reward)[run.round_end - 1],
    }


def posterior_of(count: int, arm: np.ndarray, reward: np.ndarray) -> thompson.Posterior:
    """The posteriors after the episodes (arm, reward), from the uniform prior."""
    return thompson.update(
        thompson.init(count), jnp.asarray(arm), jnp.asarray(reward == 1.0), jnp.asarray(reward)
    )


def _regret(names: Sequence[str], arm: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """(episodes,) cumulative success regret against the arm of highest posterior mean."""
    means = posterior_of(len(names), arm, reward).mean("success")
    return np.asarray(thompson.pseudo_regret(means, jnp.asarray(arm)))


def report(
    names: Sequence[str],
    arm: np.ndarray,
    reward: np.ndarray,
    steps: np.ndarray,
    key: jax.Array,
    *,
    metric: thompson.Metric = "success",
    draws: int = 4000,
) -> dict[str, Any]:
    """Per arm: `summarize`'s figures (success and score, 0-100, with 95% intervals; None
    for an arm never played), posterior means, probability of being best on `metric`,
    share of traffic; overall: the cumulative regret, in successes, of the episodes played
    against always playing the arm of highest posterior mean success."""
    posterior = posterior_of(len(names), arm, reward)
    best = np.asarray(thompson.prob_best(key, posterior, draws, metric))
    arms = {}
    for a, name in enumerate(names):
        mine = arm == a
        figures = summarize(reward[mine], steps[mine]) if mine.any() else {"episodes": 0}
        arms[name] = figures | {
            "posterior_success": float(posterior.mean("success")[a]),
            "posterior_score": 100.0 * float(posterior.mean("score")[a]),
            "prob_best": float(best[a]),
            "traffic": float(mine.mean()),
        }
    return {
        "arms": arms,
        "episodes": len(arm),
        "best": names[int(best.argmax())],
        "metric": metric,
        "cumulative_regret": float(_regret(names, arm, reward)[-1]),
    }
