"""The PyTorch twin computes what the JAX policy, losses and update step compute."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxrec.models.bert import Bert
from jaxrec.models.config import BertConfig
from jaxrec.models.policy import ChoicePolicy
from jaxrec.train import losses
from jaxrec.train.imitation import make_optimizer
from jaxrec.train.ppo_update import PPOBatch, PPOConfig, ppo_step

torch = pytest.importorskip("torch", reason="torch not installed (optional extra: .[torch])")
tp = pytest.importorskip("jaxrec.experiments.torch_policy")

BATCH, STATE_LEN, ACTIONS, ACTION_LEN = 3, 12, 4, 6
# Every term of the PPO loss switched on, imitation and KL included.
FULL_PPO = PPOConfig(il_coef=0.5, kl_coef=0.1)

forward = nnx.jit(ChoicePolicy.__call__)


@pytest.fixture(scope="module")
def policy() -> ChoicePolicy:
    config = dataclasses.replace(BertConfig.tiny(), max_position_embeddings=16)
    rngs = nnx.Rngs(3)
    return ChoicePolicy(Bert(config, rngs=rngs), rngs=rngs)


@pytest.fixture(scope="module")
def batch() -> PPOBatch:
    """Padded states, padded action tokens, invalid and fully padded action slots."""
    rng = np.random.default_rng(0)
    vocab = BertConfig.tiny().vocab_size
    state_mask = np.ones((BATCH, STATE_LEN), np.int32)
    state_mask[0, 7:] = 0
    state_mask[2, 3:] = 0
    action_mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], np.int32)
    token_mask = np.zeros((BATCH, ACTIONS, ACTION_LEN), np.int32)
    for row, slot in zip(*np.nonzero(action_mask), strict=True):
        token_mask[row, slot, : rng.integers(1, ACTION_LEN + 1)] = 1
    ref = rng.standard_normal((BATCH, ACTIONS)).astype(np.float32)
    ref = np.asarray(jax.nn.log_softmax(np.where(action_mask, ref, -1e30)))
    return PPOBatch(
        state_ids=rng.integers(1, vocab, (BATCH, STATE_LEN), dtype=np.int32),
        state_mask=state_mask,
        action_ids=rng.integers(1, vocab, (BATCH, ACTIONS, ACTION_LEN), dtype=np.int32),
        action_token_mask=token_mask,
        action_mask=action_mask,
        actions=np.array([2, 3, 0], np.int32),
        old_log_probs=np.log([0.3, 0.2, 1.0]).astype(np.float32),
        advantages=np.array([1.0, -0.5, 2.0], np.float32),
        returns=np.array([0.5, -1.0, 1.5], np.float32),
        ref_log_probs=np.where(action_mask, ref, -np.inf).astype(np.float32),
        gold=np.array([1, 3, 0], np.int32),
    )


def _close(jax_value, torch_value, atol=1e-5) -> None:
    expected = np.asarray(jax_value)
    actual = torch_value.detach().cpu().numpy() if torch.is_tensor(torch_value) else torch_value
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(finite, np.isfinite(actual))  # -inf on the same actions
    np.testing.assert_allclose(actual[finite], expected[finite], atol=atol, rtol=1e-5)


def test_forward_matches_jax(policy, batch):
    model = tp.from_jax(policy)
    out = forward(policy, *batch[:5])
    inputs = tp.to_torch(batch)
    with torch.no_grad():
        twin = model(*(inputs[k] for k in tp.POLICY_INPUTS))
    for name in ("logits", "log_probs", "values"):
        _close(getattr(out, name), getattr(twin, name))
    assert np.isneginf(np.asarray(out.log_probs)[0, 3])


def test_from_jax_copies_every_parameter(policy):
    model = tp.from_jax(policy)
    copied = tp.jax_layout(model, policy)
    theirs = nnx.to_flat_state(nnx.state(policy, nnx.Param))
    assert len(copied) == len(theirs) == len(list(model.parameters()))
    for path, var in theirs:
        np.testing.assert_array_equal(copied[path], np.asarray(var[...]))


def test_losses_match_jax(batch):
    """Each loss on the same numbers: log-probs with -inf on invalid actions, row weights."""
    rng = np.random.default_rng(1)
    lp = np.asarray(batch.ref_log_probs)
    other = np.where(np.isfinite(lp), lp + 0.3 * rng.standard_normal(lp.shape), -np.inf)
    other = other.astype(np.float32)
    t = tp.to_torch({"lp": lp, "other": other, **batch._asdict()})
    weights = np.array([1.0, 0.0, 2.0], np.float32)
    tw = torch.from_numpy(weights)
    _close(losses.imitation_loss(lp, batch.gold), tp.imitation_loss(t["lp"], t["gold"]))
    chosen, rejected = (lp[np.arange(BATCH), i] for i in (batch.gold, batch.actions))
    ref_c, ref_r = (other[np.arange(BATCH), i] for i in (batch.gold, batch.actions))
    args = [torch.from_numpy(np.ascontiguousarray(x)) for x in (chosen, rejected, ref_c, ref_r)]
    for w, torch_w in ((None, None), (weights, tw)):
        jax_loss, jax_metrics = losses.dpo_loss(chosen, rejected, ref_c, ref_r, 0.3, w)
        torch_loss, torch_metrics = tp.dpo_loss(*args, 0.3, torch_w)
        _close(jax_loss, torch_loss)
        for key, value in jax_metrics.items():
            _close(value, torch_metrics[key])
        new = lp[np.arange(BATCH), batch.actions]
        for jax_part, torch_part in zip(
            losses.ppo_policy_loss(new, batch.old_log_probs, batch.advantages, 0.2, w),
            tp.ppo_policy_loss(
                torch.from_numpy(np.ascontiguousarray(new)),
                t["old_log_probs"],
                t["advantages"],
                0.2,
                torch_w,
            ),
            strict=True,
        ):
            _close(jax_part, torch_part)
        _close(
            losses.value_loss(batch.returns * 0.7, batch.returns, w),
            tp.value_loss(t["returns"] * 0.7, t["returns"], torch_w),
        )
        _close(losses.entropy_bonus(lp, w), tp.entropy_bonus(t["lp"], torch_w))
        _close(
            losses.kl_to_reference(lp, other, w), tp.kl_to_reference(t["lp"], t["other"], torch_w)
        )


def jax_batch(batch: PPOBatch) -> PPOBatch:
    return PPOBatch(*(None if x is None else jnp.asarray(x) for x in batch))


def test_one_update_step_matches_jax(policy, batch):
    """Same weights, same batch: same PPO metrics (every loss term on) before the step, and
    near-equal parameters after it.

    Adam's first step moves each parameter by about lr·sign(gradient), so a gradient that is
    rounding noise in both frameworks may move the two copies apart by up to 2·lr; such
    entries are rare, and every parameter tensor must match far more closely on the whole.
    """
    lr = 1e-3
    jax_policy = nnx.clone(policy)
    model = tp.from_jax(jax_policy)
    trainer = tp.TorchTrainer(model, lr, clip=0.5)  # clipping active: the grad norm is > 0.5
    optimizer = make_optimizer(jax_policy, lr, clip=0.5)
    jax_metrics = ppo_step(jax_policy, optimizer, jax_batch(batch), FULL_PPO)
    torch_metrics = trainer.ppo_step(tp.to_torch(batch), FULL_PPO)
    for key, value in jax_metrics.items():
        _close(value, torch_metrics[key])
    before = {path: np.asarray(v[...]) for path, v in nnx.to_flat_state(nnx.state(policy))}
    after_torch = tp.jax_layout(model, jax_policy)
    moved = 0
    for path, var in nnx.to_flat_state(nnx.state(jax_policy, nnx.Param)):
        jax_delta = np.asarray(var[...]) - before[path]
        torch_delta = after_torch[path] - before[path]
        error = np.abs(jax_delta - torch_delta)
        assert error.max() <= 2.1 * lr, path
        assert np.mean(error > 0.05 * lr) <= 0.01, path  # sign flips on noise-level gradients only
        moved += int(np.abs(jax_delta).max() > 0.5 * lr)
    assert moved > 10  # the step did move the parameters


def test_bfloat16_autocast_stays_close(policy, batch):
    """bf16 compute (autocast) stays near the fp32 numbers, as JAX's bf16 policy does."""
    model = tp.from_jax(policy)
    trainer = tp.TorchTrainer(model, 1e-3, dtype="bfloat16")
    inputs = tp.to_torch(batch)
    with torch.no_grad():
        half = trainer.forward(inputs)
        full = model(*(inputs[k] for k in tp.POLICY_INPUTS))
    assert half.log_probs.dtype == torch.float32
    finite = torch.isfinite(full.log_probs)
    assert torch.equal(finite, torch.isfinite(half.log_probs))
    assert (half.log_probs[finite] - full.log_probs[finite]).abs().max() < 0.1
