"""Thompson-sampling posteriors on synthetic arms of known means: concentration, traffic,
calibration of P(best), reproducibility, and hand-checked updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrec.eval import thompson

SUCCESS = jnp.array([0.2, 0.5, 0.7])
FAILURE_SCORE = jnp.array([0.3, 0.6, 0.3])
SHAPE = dict(runs=4, rounds=30, sessions=32)  # ~1,000 rollouts per run, as in the paper


@pytest.fixture(scope="module")
def simulation() -> thompson.Simulation:
    return thompson.simulate(jax.random.PRNGKey(0), SUCCESS, FAILURE_SCORE, **SHAPE)


def test_update_adds_wins_and_fractional_scores():
    posterior = thompson.update(
        thompson.init(3),
        jnp.array([0, 2, 2, 2]),
        jnp.array([True, False, True, False]),
        jnp.array([1.0, 0.25, 1.0, 0.5]),
    )
    np.testing.assert_allclose(posterior.success_alpha, [2, 1, 2])
    np.testing.assert_allclose(posterior.success_beta, [1, 1, 3])
    np.testing.assert_allclose(posterior.score_alpha, [2, 1, 2.75])
    np.testing.assert_allclose(posterior.score_beta, [1, 1, 2.25])
    np.testing.assert_allclose(posterior.mean("score"), [2 / 3, 0.5, 2.75 / 5])


def test_fixed_arms_are_equal_blocks_and_regret_is_hand_checked():
    assert thompson.fixed_arms(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    regret = thompson.pseudo_regret(jnp.array([0.2, 0.5]), jnp.array([0, 1, 0]))
    np.testing.assert_allclose(regret, [0.3, 0.3, 0.6], rtol=1e-6)


def test_posteriors_concentrate_on_the_true_means(simulation):
    posterior = simulation.posterior
    alpha, beta = posterior.params("success")
    sd = np.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1)))
    error = np.abs(posterior.mean("success") - SUCCESS)
    assert (error < 4 * sd).all()  # every arm's posterior covers its truth
    assert (error[:, 2] < 0.04).all() and (sd[:, 2] < 0.02).all()  # and the best is sharp
    true_score = SUCCESS + (1 - SUCCESS) * FAILURE_SCORE
    assert np.abs(posterior.mean("score")[:, 2] - true_score[2]).max() < 0.04


def test_the_best_arm_gets_most_traffic_and_is_found(simulation):
    traffic = np.stack([np.bincount(a.ravel(), minlength=3) for a in np.asarray(simulation.arms)])
    share = traffic / traffic.sum(1, keepdims=True)
    assert (share[:, 2] > 0.8).all()
    assert (share[:, 0] < share[:, 1]).all()  # the worst arm is dropped first
    best = np.asarray(simulation.prob_best)[:, 2]
    assert (best > 0.8).all() and best.mean() > 0.95
    # later rounds favour the best arm more than the first
    first, last = (np.mean(simulation.arms[:, r] == 2) for r in (0, -1))
    assert last > first


def test_simulation_is_reproducible_per_seed(simulation):
    again = thompson.simulate(jax.random.PRNGKey(0), SUCCESS, FAILURE_SCORE, **SHAPE)
    for mine, theirs in zip(jax.tree.leaves(simulation), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    other = thompson.simulate(jax.random.PRNGKey(1), SUCCESS, FAILURE_SCORE, **SHAPE)
    assert not np.array_equal(simulation.arms, other.arms)


def test_prob_best_is_calibrated_over_repeated_runs():
    """With true means drawn from the prior, P(best | data) is exactly the frequency with
    which an arm given that probability is the best one: checked per probability bin."""
    runs = 1000
    truth = jax.random.uniform(jax.random.PRNGKey(7), (runs, 3))
    result = thompson.simulate(
        jax.random.PRNGKey(8), truth, jnp.full(3, 0.5), runs=runs, rounds=2, sessions=4, draws=200
    )
    predicted = np.asarray(result.prob_best).ravel()
    is_best = (np.asarray(truth) == np.asarray(truth).max(1, keepdims=True)).ravel()
    bins = np.digitize(predicted, [0.1, 0.3, 0.5, 0.7, 0.9])
    checked = 0
    for b in range(6):
        inside = bins == b
        if inside.sum() < 100:
            continue
        p = predicted[inside].mean()
        tolerance = 4 * np.sqrt(p * (1 - p) / inside.sum()) + 0.02
        assert abs(is_best[inside].mean() - p) < tolerance, (b, is_best[inside].mean(), p)
        checked += 1
    assert checked >= 4  # the check spans the whole range, not one bin
    # an overconfident rule (always 0 or 1) would fail the same check
    assert abs(is_best[predicted > 0.5].mean() - 1.0) > 0.1


def test_assignment_share_equals_prob_best():
    posterior = thompson.update(
        thompson.init(3),
        jnp.array([0] * 10 + [1] * 10 + [2] * 10),
        jnp.array([True] * 4 + [False] * 6 + [True] * 5 + [False] * 5 + [True] * 6 + [False] * 4),
        jnp.zeros(30),
    )
    draws = 8000
    arms = thompson.assign(jax.random.PRNGKey(0), posterior, draws)
    share = np.bincount(np.asarray(arms), minlength=3) / draws
    best = thompson.prob_best(jax.random.PRNGKey(1), posterior, draws)
    np.testing.assert_allclose(share, best, atol=0.03)
    assert share[2] > share[1] > share[0]
