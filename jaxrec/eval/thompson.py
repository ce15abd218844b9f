"""Thompson sampling over agents as pure JAX: Beta posteriors per arm, on success and on score.

Success (reward exactly 1) is Bernoulli, so its Beta posterior is exact: a success adds 1
to alpha, a failure 1 to beta. The score (the reward in [0, 1]) gets a Beta posterior with
fractional updates, alpha += score and beta += 1 - score: the expected update of the
Bernoulli trick of Agrawal & Goyal (2012), who flip a coin of bias `score` and update on it.
Its mean tends to the arm's mean score; its spread is that of a Bernoulli arm of the same
mean, which is the widest any [0, 1] reward of that mean can have, so the posterior is
conservative (never narrower than it should be). Both start from Beta(1, 1), uniform.

`init` / `update` / `assign` follow optax's shape (state is a dataclass of arrays, the
functions are pure and unjitted so callers compose them); `simulate` runs synthetic arms of
known means round after round under `lax.scan`, vmapped over independent runs, for tests.
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

Metric = Literal["success", "score"]
Mode = Literal["thompson", "fixed"]


@struct.dataclass
class Posterior:
    """Beta(alpha, beta) per arm for the success rate and for the mean score."""

    success_alpha: jax.Array  # (arms,) float32
    success_beta: jax.Array  # (arms,) float32
    score_alpha: jax.Array  # (arms,) float32
    score_beta: jax.Array  # (arms,) float32

    def params(self, metric: Metric) -> tuple[jax.Array, jax.Array]:
        """(alpha, beta) of the posterior on `metric`."""
        if metric == "success":
            return self.success_alpha, self.success_beta
        return self.score_alpha, self.score_beta

    def mean(self, metric: Metric) -> jax.Array:
        """(arms,) posterior mean of `metric`."""
        alpha, beta = self.params(metric)
        return alpha / (alpha + beta)


def init(arms: int, prior: float = 1.0) -> Posterior:
    """Every arm at Beta(prior, prior) on both metrics."""
    ones = jnp.full((arms,), prior, jnp.float32)
    return Posterior(ones, ones, ones, ones)


def update(
    posterior: Posterior, arms: jax.Array, success: jax.Array, score: jax.Array
) -> Posterior:
    """Add a batch of episodes: (sessions,) arm index, success (bool) and score in [0, 1]."""
    one_hot = jax.nn.one_hot(arms, posterior.success_alpha.shape[0], dtype=jnp.float32)
    wins = success.astype(jnp.float32) @ one_hot
    points = score.astype(jnp.float32) @ one_hot
    episodes = one_hot.sum(0)
    return Posterior(
        posterior.success_alpha + wins,
        posterior.success_beta + episodes - wins,
        posterior.score_alpha + points,
        posterior.score_beta + episodes - points,
    )


def draw(key: jax.Array, posterior: Posterior, draws: int, metric: Metric = "success") -> jax.Array:
    """(draws, arms) joint samples of every arm's mean `metric` from the posterior."""
    alpha, beta = posterior.params(metric)
    return jax.random.beta(key, alpha, beta, (draws, alpha.shape[0]))


def assign(
    key: jax.Array, posterior: Posterior, sessions: int, metric: Metric = "success"
) -> jax.Array:
    """(sessions,) int32 arm per session: each session draws every arm's mean and takes the
    best, so an arm gets the share of traffic equal to its probability of being best."""
    return jnp.argmax(draw(key, posterior, sessions, metric), axis=1).astype(jnp.int32)


def fixed_arms(arms: int, sessions: int) -> jax.Array:
    """(sessions,) int32 arm per session of the fixed-allocation control: equal blocks."""
    return jnp.arange(sessions, dtype=jnp.int32) * arms // sessions


def allocate(
    key: jax.Array, posterior: Posterior, sessions: int, mode: Mode, metric: Metric = "success"
) -> jax.Array:
    """(sessions,) int32 arm per session of one round: Thompson draws, or the fixed blocks."""
    if mode == "thompson":
        return assign(key, posterior, sessions, metric)
    return fixed_arms(posterior.success_alpha.shape[0], sessions)


def prob_best(
    key: jax.Array, posterior: Posterior, draws: int = 4000, metric: Metric = "success"
) -> jax.Array:
    """(arms,) Monte Carlo probability that each arm has the highest mean `metric`."""
    best = jnp.argmax(draw(key, posterior, draws, metric), axis=1)
    return jnp.bincount(best, length=posterior.success_alpha.shape[0]) / draws


def pseudo_regret(means: jax.Array, arms: jax.Array) -> jax.Array:
    """Cumulative regret of playing `arms` (episodes,) against the best of `means` (arms,)."""
    return jnp.cumsum(means.max() - means[arms])


class Simulation(NamedTuple):
    """Independent simulated runs; leading axis `runs`."""

    posterior: Posterior  # fields (runs, arms)
    arms: jax.Array  # (runs, rounds, sessions) int32
    success: jax.Array  # (runs, rounds, sessions) bool
    score: jax.Array  # (runs, rounds, sessions) float32
    prob_best: jax.Array  # (runs, arms) after the last round


@functools.partial(
    jax.jit, static_argnames=("runs", "rounds", "sessions", "mode", "metric", "draws")
)
def simulate(
    key: jax.Array,
    success_p: jax.Array,
    failure_score: jax.Array,
    *,
    runs: int,
    rounds: int,
    sessions: int,
    mode: Mode = "thompson",
    metric: Metric = "success",
    draws: int = 1000,
) -> Simulation:
    """Synthetic arms, no model: an episode succeeds with probability `success_p` (score 1),
    else scores `failure_score` (a partial match). Both are (arms,) or (runs, arms).

    Each round assigns `sessions` episodes (Thompson or fixed), plays them and updates the
    posterior, exactly as the evaluator does on the store.
    """
    arms = success_p.shape[-1]
    success_p = jnp.broadcast_to(success_p, (runs, arms))
    failure_score = jnp.broadcast_to(failure_score, (runs, arms))

    def one_run(key, success_p, failure_score):
        def round_(posterior, key):
            assign_key, play_key = jax.random.split(key)
            chosen = allocate(assign_key, posterior, sessions, mode, metric)
            success = jax.random.bernoulli(play_key, success_p[chosen])
            score = jnp.where(success, 1.0, failure_score[chosen])
            return update(posterior, chosen, success, score), (chosen, success, score)

        rounds_key, best_key = jax.random.split(key)
        posterior, out = jax.lax.scan(round_, init(arms), jax.random.split(rounds_key, rounds))
        return Simulation(posterior, *out, prob_best(best_key, posterior, draws, metric))

    return jax.vmap(one_run)(jax.random.split(key, runs), success_p, failure_score)
