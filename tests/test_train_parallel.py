"""Data-parallel training: 4 simulated CPU devices give 1 device's losses and parameters.

The comparison runs in a child process (this file run as a script), because the XLA flag
that makes 4 CPU devices must be set before JAX starts, and pytest's JAX already has one.
Both runs go through the same code (`data_mesh`, `place`, `shard_batch`, the unchanged
jit'd steps); only the mesh differs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxrec.models.bert import Bert
from jaxrec.models.config import BertConfig
from jaxrec.models.policy import ChoicePolicy
from jaxrec.train.batching import ChoiceBatch
from jaxrec.train.dpo import dpo_step, reference_log_probs, rejected_actions
from jaxrec.train.imitation import imitation_step, make_optimizer
from jaxrec.train.losses import gold_log_probs
from jaxrec.train.parallel import data_mesh, place, shard_batch
from jaxrec.train.ppo_update import PPOBatch, PPOConfig, ppo_step

DEVICES = 4
BATCH, STATE_LEN, ACTIONS, ACTION_LEN = 8, 12, 4, 5
LEARNING_RATE, STEPS = 1e-3, 6  # 3 imitation + 2 DPO + 1 PPO
# float32 throughout. Splitting the batch over devices reorders the reductions (the
# batch-mean losses and every gradient sum become per-device partial sums plus an
# all-reduce), which moves results by a few float32 ulps (~1e-7 relative) per reduction;
# RTOL leaves ~100x room for that to compound over 6 AdamW steps, ATOL covers values
# near 0, and both stay far below what a real bug does (a lost shard or an unreduced
# gradient changes losses and parameters at the 1e-3..1e-1 level). Measured: largest
# absolute difference 1.2e-7 over losses, metrics, parameters and AdamW moments.
RTOL, ATOL = 1e-5, 1e-6
# The score head's bias shifts every logit of a state equally, and log-softmax ignores
# that: its gradient is exactly 0, computed as float32 rounding noise (~1e-9). AdamW
# (eps 1e-8) turns that noise into steps of up to ~lr, so this one leaf depends on the
# reduction order and gets only a sanity bound. It cannot affect any log-prob or loss.
NOISE_DRIVEN = "param['score']['bias'].value"
NOISE_ATOL = 2 * STEPS * LEARNING_RATE


def _policy() -> ChoicePolicy:
    config = dataclasses.replace(
        BertConfig.tiny(),
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    rngs = nnx.Rngs(0)
    return ChoicePolicy(Bert(config, rngs=rngs), rngs=rngs)


def _batch() -> ChoiceBatch:
    """8 random decisions with 1 to 4 valid actions each."""
    rng = np.random.default_rng(0)
    vocab = BertConfig.tiny().vocab_size
    valid = np.array([3, 4, 2, 1, 4, 3, 2, 4])
    action_mask = (np.arange(ACTIONS)[None, :] < valid[:, None]).astype(np.int32)
    token_mask = np.broadcast_to(action_mask[..., None], (BATCH, ACTIONS, ACTION_LEN))
    state_mask = np.arange(STATE_LEN)[None, :] < rng.integers(4, STATE_LEN + 1, (BATCH, 1))
    return ChoiceBatch(
        state_ids=rng.integers(1, vocab, (BATCH, STATE_LEN), dtype=np.int32),
        state_mask=state_mask.astype(np.int32),
        action_ids=rng.integers(1, vocab, (BATCH, ACTIONS, ACTION_LEN), dtype=np.int32),
        action_token_mask=token_mask.astype(np.int32),
        action_mask=action_mask,
        gold=(rng.integers(0, 4, BATCH) % valid).astype(np.int32),
    )


def _is_spread(array: jax.Array, devices: int) -> bool:
    """Split along the batch axis into `devices` equal shards, one per device."""
    shards = array.addressable_shards
    return (
        len(array.sharding.device_set) == devices
        and len(shards) == devices
        and all(s.data.shape[0] == array.shape[0] // devices for s in shards)
    )


def _is_replicated(tree: object, devices: int) -> bool:
    return all(
        leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == devices
        for leaf in jax.tree.leaves(tree)
    )


def _train(devices: int) -> dict[str, object]:
    """3 imitation, 2 DPO and 1 PPO step on a mesh of `devices`; everything it produced."""
    mesh = data_mesh(jax.devices()[:devices])
    policy = _policy()
    optimizer = make_optimizer(policy, LEARNING_RATE)
    place(policy, optimizer, mesh)
    batch = shard_batch(_batch(), mesh)
    assert all(_is_spread(array, devices) for array in batch)
    assert _is_replicated(nnx.state(policy), devices)
    assert _is_replicated(nnx.state(optimizer), devices)

    losses = [imitation_step(policy, optimizer, batch) for _ in range(3)]

    ref = reference_log_probs(policy, batch)  # the frozen reference, sharded like the batch
    rejected, usable = rejected_actions(jax.random.key(0), ref, jnp.asarray(batch.gold))
    pairs = shard_batch(
        (rejected, gold_log_probs(ref, batch.gold), gold_log_probs(ref, rejected), usable), mesh
    )
    dpo = [dpo_step(policy, optimizer, batch, *pairs[:3], jnp.float32(0.5), pairs[3]) for _ in "ab"]

    ppo_batch = shard_batch(
        PPOBatch(
            *batch[:5],
            actions=rejected,
            old_log_probs=gold_log_probs(ref, rejected),
            advantages=jnp.linspace(-1.0, 2.0, BATCH),
            returns=jnp.linspace(0.0, 1.0, BATCH),
            ref_log_probs=ref,
            gold=jnp.asarray(batch.gold),
        ),
        mesh,
    )
    ppo = ppo_step(policy, optimizer, ppo_batch, PPOConfig(il_coef=0.1, kl_coef=0.1))

    # The steps' outputs keep the replicated layout: the next step reuses the same compile.
    assert _is_replicated(nnx.state(policy), devices)
    assert _is_replicated(nnx.state(optimizer), devices)
    return {
        "imitation_loss": np.array(losses),
        "rejected": np.asarray(rejected),
        **{f"dpo_{k}": np.array([step[k] for step in dpo]) for k in dpo[0]},
        **{f"ppo_{k}": np.asarray(v) for k, v in ppo.items()},
        **{
            f"param{jax.tree_util.keystr(path)}": np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(policy, nnx.Param))
        },
        **{
            f"opt{jax.tree_util.keystr(path)}": np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(optimizer))
        },
    }


def _child() -> None:
    """Compares the two runs; prints the largest differences, and any mismatch, as JSON."""
    assert jax.device_count() == DEVICES, jax.devices()
    single, sharded = _train(1), _train(DEVICES)
    assert single.keys() == sharded.keys()
    np.testing.assert_array_equal(single["rejected"], sharded["rejected"])
    report, failed = {}, []
    for name, expected in single.items():
        diff = np.abs(sharded[name].astype(np.float64) - expected)
        scale = np.maximum(np.abs(expected), np.finfo(np.float32).tiny)
        report[name] = [float(diff.max(initial=0.0)), float((diff / scale).max(initial=0.0))]
        atol = NOISE_ATOL if name == NOISE_DRIVEN else ATOL
        if not np.allclose(sharded[name], expected, rtol=RTOL, atol=atol):
            failed.append(name)
    with pytest.raises(ValueError, match="6 rows does not split evenly over 4 devices"):
        shard_batch(jax.tree.map(lambda a: a[:6], _batch()), data_mesh())
    print(json.dumps({"failed": failed, "diffs": report}))


def test_four_devices_match_one_device():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (
        f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={DEVICES}"
    )
    # Compile time dominates this test; XLA's cheap mode halves it, and both runs share it.
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
    done = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == [], report
    diffs = report["diffs"]
    assert {"imitation_loss", "dpo_loss", "ppo_loss", NOISE_DRIVEN} <= diffs.keys()
    assert sum(name.startswith("opt") for name in diffs) > 2 * sum(
        name.startswith("param") for name in diffs
    )  # AdamW's two moments of every parameter were compared too


def test_shard_batch_keeps_structure_and_rejects_scalars():
    mesh = data_mesh(jax.devices()[:1])
    batch = _batch()
    ppo = PPOBatch(*batch[:5], *(np.zeros(BATCH, np.float32) for _ in range(4)))
    placed = shard_batch(ppo, mesh)
    assert placed.ref_log_probs is None and placed.gold is None
    assert isinstance(placed.actions, jax.Array) and placed.state_ids.shape == (BATCH, STATE_LEN)
    assert shard_batch(batch, mesh).gold.sharding.spec == jax.sharding.PartitionSpec("data")
    with pytest.raises(ValueError, match=r"\[1\] is a scalar"):
        shard_batch((np.zeros(BATCH), np.float32(0.5)), mesh)


if __name__ == "__main__":
    _child()
