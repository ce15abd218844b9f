"""Data-parallel training with `jax.sharding`: one code path for 1 device, N devices or N hosts.

The recipe is GSPMD's: parameters and optimiser state are replicated on a 1-D mesh of
devices (axis "data"), every batch is split along its leading axis, and the jit-compiled
steps (`imitation_step`, `dpo_step`, `ppo_step`) run unchanged: jit reads the shardings
of its inputs, partitions the computation, and the compiler inserts the all-reduce that
makes the batch-mean loss and its gradients global. On a 1-device mesh every call here
is a plain placement, so the same training loop serves both::

    mesh = data_mesh()  # every device of every process
    place(policy, optimizer, mesh)  # once, after building (or restoring) them
    for step in range(steps):
        loss = imitation_step(policy, optimizer, shard_batch(take(demos, rows), mesh))

Several hosts (multi-controller JAX): every process runs the same program.

1. Call `jax.distributed.initialize()` first, before any other JAX call: with no
   arguments it reads the cluster environment (SLURM, Open MPI, TPU pods, ...);
   otherwise pass `coordinator_address="host0:1234"`, `num_processes=P`, `process_id=i`.
2. Build the model and optimiser with the same seed on every process, then
   `data_mesh()` (it spans `jax.devices()`, all processes' devices) and `place(...)`:
   replication is a `jax.device_put` of values that are identical everywhere.
3. Each process feeds only its own share of the global batch (global batch / P rows,
   e.g. `rows[i::P]`); `shard_batch` assembles the global array with
   `jax.make_array_from_process_local_data`. Everything else, steps included, is the
   same code. Read results with `float(loss)` (replicated, so every process can), and
   let one process (`jax.process_index() == 0`) write logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"

Batch = TypeVar("Batch")


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis "data" over the given devices (default: all, of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("data_mesh needs at least one device")
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding that keeps a full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The sharding that splits an array's leading (batch) axis over the mesh."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicate(node: nnx.Module | nnx.Optimizer, mesh: Mesh) -> None:
    """Puts every variable of an NNX module or optimiser on the mesh, fully replicated, in place.

    Parameters, optimiser moments and step counters, RNG keys: the whole `nnx.state`.
    """
    nnx.update(node, jax.device_put(nnx.state(node), replicated(mesh)))


def place(model: nnx.Module, optimizer: nnx.Optimizer | None, mesh: Mesh) -> None:
    """Replicates a model and its optimiser on the mesh: call once before training.

    Call it before `Checkpointer.restore` too: restoring reads the shardings of the
    current state, so restored arrays land on the mesh as well.
    """
    replicate(model, mesh)
    if optimizer is not None:
        replicate(optimizer, mesh)


def shard_batch(batch: Batch, mesh: Mesh) -> Batch:
    """Splits every array of a batch along its leading axis over the mesh.

    Args:
        batch: a pytree of arrays with a common leading batch axis: a `ChoiceBatch`, a
            `PPOBatch` (None fields stay None), or a tuple such as DPO's
            `(rejected, ref_chosen, ref_rejected)`. NumPy or JAX arrays. With several
            processes, each passes its own rows (see the module docstring).
        mesh: a mesh from `data_mesh`.

    Returns:
        The same structure, every array a global `jax.Array` split over the "data" axis.

    Raises:
        ValueError: when an array has no leading axis, or its row count does not divide
            evenly among this process's devices of the mesh.
    """
    sharding = batch_sharding(mesh)
    local_devices = len(mesh.local_devices)

    def put(path: tuple[Any, ...], array: Any) -> jax.Array:
        shape = np.shape(array)
        name = jax.tree_util.keystr(path) or "batch"
        if not shape:
            raise ValueError(f"{name} is a scalar: shard_batch needs a leading batch axis")
        if shape[0] % local_devices:
            raise ValueError(
                f"{name}: batch of {shape[0]} rows does not split evenly over "
                f"{local_devices} devices; use a batch size divisible by {local_devices}"
            )
        if jax.process_count() == 1:
            return jax.device_put(array, sharding)
        return jax.make_array_from_process_local_data(sharding, np.asarray(array))

    return jax.tree_util.tree_map_with_path(put, batch)
