"""Orbax checkpoints that resume a run exactly and let one command start from another's result.

A checkpoint step folder `<run>/checkpoints/<step>/` holds three items:

- `params`: `nnx.state(model, nnx.Param)` (the modules keep no RNG state, so this is all
  of the model);
- `optimizer`: `nnx.state(optimizer)` (optax state and the update count);
- `position`: JSON with the step, the data position and the RNG key's raw uint32 words.

Retention: the last `max_to_keep` checkpoints, plus the one with the highest `best_metric`
(held-out success) among those saved with metrics. Orbax's own `best_fn` + `max_to_keep`
would instead keep the K *best*, dropping the newest one a resume needs, so we pass an
explicit preservation policy: `LatestN(K)` or `BestN(1)`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx
from orbax.checkpoint.checkpoint_managers import AnyPreservationPolicy, BestN, LatestN

CHECKPOINTS = "checkpoints"


class _ExpectedOrbaxWarnings(logging.Filter):
    """Orbax warns on every save without metrics once checkpoints are ranked (ours rank only
    the evaluated steps, by design) and on every read-only manager (how `restore_params`
    opens another run's checkpoints); both are noise here."""

    EXPECTED = ("did not provide metrics", "read_only=True", "is read only")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.EXPECTED)


logging.getLogger("absl").addFilter(_ExpectedOrbaxWarnings())


class TrainPosition(NamedTuple):
    """Where a restored run picks up: the next step's inputs, not the model."""

    step: int  # the step the checkpoint was saved at
    rng_key: jax.Array  # the key as it was passed to `save` (typed or raw uint32)
    data_position: Any  # whatever JSON value the loop uses to find its next batch


class Checkpointer:
    """Saves and restores training state in `<run_dir>/checkpoints` (synchronously).

    Saves are blocking: once `save` returns the step is committed on disk, so a run killed
    at any later moment resumes from it. Our models are small enough that async writes
    would save little time and make that guarantee depend on calling `close()`.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        save_every: int = 1,
        max_to_keep: int = 3,
        best_metric: str = "success",
    ):
        self.directory = Path(run_dir).resolve() / CHECKPOINTS
        self.save_every = save_every
        self.best_metric = best_metric
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=_options(
                best_metric,
                preservation_policy=AnyPreservationPolicy(
                    [
                        LatestN(n=max_to_keep),
                        BestN(
                            get_metric_fn=_metric_getter(best_metric),
                            n=1,
                            keep_checkpoints_without_metrics=False,
                        ),
                    ]
                ),
            ),
        )

    def save(
        self,
        step: int,
        *,
        model: nnx.Module,
        optimizer: nnx.Optimizer,
        rng_key: jax.Array,
        data_position: Any,
        metrics: dict[str, float] | None = None,
        force: bool = False,
    ) -> bool:
        """Save if `step` is a multiple of `save_every` (or `force`, for the final step).

        Args:
            step: the number of updates done so far.
            metrics: held-out figures; `metrics[best_metric]` ranks checkpoints for `best`.
            force: save whatever the step (a step already on disk is not written twice).

        Returns:
            Whether a checkpoint was written.
        """
        if step in self._manager.all_steps() or not (force or step % self.save_every == 0):
            return False
        typed = jnp.issubdtype(rng_key.dtype, jax.dtypes.prng_key)
        position = {
            "step": int(step),
            "data_position": data_position,
            "rng_key": {
                "typed": bool(typed),
                "impl": str(jax.random.key_impl(rng_key)) if typed else None,
                "shape": list(np.shape(rng_key)),
                "data": np.asarray(jax.random.key_data(rng_key) if typed else rng_key)
                .ravel()
                .tolist(),
            },
        }
        saved = self._manager.save(
            step,
            args=ocp.args.Composite(
                params=ocp.args.StandardSave(nnx.state(model, nnx.Param)),
                optimizer=ocp.args.StandardSave(nnx.state(optimizer)),
                position=ocp.args.JsonSave(position),
            ),
            metrics=dict(metrics) if metrics is not None else None,
            force=True,  # the schedule is ours: orbax would also save the first step
        )
        self._manager.wait_until_finished()
        return saved

    def latest_step(self) -> int | None:
        """The newest saved step, or None before the first save."""
        return self._manager.latest_step()

    def best_step(self) -> int | None:
        """The saved step with the highest `best_metric`, or None if none has metrics."""
        return self._manager.best_step()

    def all_steps(self) -> list[int]:
        """Every step still on disk, oldest first."""
        return sorted(self._manager.all_steps())

    def restore(
        self,
        step: int | None = None,
        *,
        model: nnx.Module,
        optimizer: nnx.Optimizer | None = None,
    ) -> TrainPosition:
        """Load a step (default: the latest) into `model` and `optimizer`, in place.

        Raises:
            FileNotFoundError: no checkpoint, or not the step asked for.
            ValueError: the checkpoint's arrays do not fit the model or optimiser.
        """
        if step is None:
            step = self.latest_step()
            if step is None:
                raise FileNotFoundError(f"no checkpoint to resume from in {self.directory}")
        _check_step(self._manager, step, self.directory)
        items = {
            "params": ocp.args.StandardRestore(_abstract(nnx.state(model, nnx.Param))),
            "position": ocp.args.JsonRestore(),
        }
        if optimizer is not None:
            items["optimizer"] = ocp.args.StandardRestore(_abstract(nnx.state(optimizer)))
        restored = _restore(self._manager, step, items, self.directory)
        nnx.update(model, restored["params"])
        if optimizer is not None:
            nnx.update(optimizer, restored["optimizer"])
        position = restored["position"]
        return TrainPosition(
            int(position["step"]), _key_from_json(position["rng_key"]), position["data_position"]
        )

    def close(self) -> None:
        """Wait for any pending write and release orbax's resources."""
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def restore_params(
    path: str | Path, model: nnx.Module, *, best_metric: str = "success"
) -> tuple[Path, int]:
    """Load parameters for `--init-from`: a run folder (its best, else latest, checkpoint),
    its `checkpoints` folder, or one step folder such as `runs/il-x/checkpoints/400`.

    Returns:
        The checkpoints folder and the step loaded, for the new run's record.

    Raises:
        FileNotFoundError: the path, or any checkpoint in it, does not exist.
        ValueError: the saved parameters do not fit `model`.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"--init-from {path}: no such run folder or checkpoint")
    step: int | None = None
    if path.name.isdigit() and (path / "params").is_dir():
        directory, step = path.parent, int(path.name)
    elif (path / CHECKPOINTS).is_dir():
        directory = path / CHECKPOINTS
    else:
        directory = path
    manager = ocp.CheckpointManager(
        directory, options=_options(best_metric, read_only=True, create=False)
    )
    try:
        if step is None:
            step = manager.best_step()
            if step is None:
                step = manager.latest_step()
            if step is None:
                raise FileNotFoundError(
                    f"--init-from {path}: no checkpoint step folder in {directory} "
                    f"(expected a run folder with {CHECKPOINTS}/<step>/params)"
                )
        _check_step(manager, step, directory)
        target = nnx.state(model, nnx.Param)
        restored = _restore(
            manager, step, {"params": ocp.args.StandardRestore(_abstract(target))}, directory
        )
        nnx.update(model, restored["params"])
    finally:
        manager.close()
    return directory, step


def _options(best_metric: str, **kwargs: Any) -> ocp.CheckpointManagerOptions:
    """`best_fn` is set so that orbax's `best_step()` ranks by the metric (higher is better)."""
    return ocp.CheckpointManagerOptions(
        best_fn=_metric_getter(best_metric),
        best_mode="max",
        enable_async_checkpointing=False,
        cleanup_tmp_directories=True,
        **kwargs,
    )


def _metric_getter(name: str):
    # Checkpoints saved with metrics that lack the key rank last rather than crash.
    return lambda metrics: float(metrics.get(name, -np.inf))


def _check_step(manager: ocp.CheckpointManager, step: int, directory: Path) -> None:
    steps = sorted(manager.all_steps())
    if step not in steps:
        raise FileNotFoundError(
            f"no checkpoint for step {step} in {directory} (steps on disk: {steps or 'none'})"
        )


def _abstract(state: nnx.State) -> nnx.State:
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)


def _restore(
    manager: ocp.CheckpointManager, step: int, items: dict[str, Any], directory: Path
) -> Any:
    try:
        return manager.restore(step, args=ocp.args.Composite(**items))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"checkpoint {directory / str(step)} does not fit this model/optimiser: {error}"
        ) from error


def _key_from_json(saved: dict[str, Any]) -> jax.Array:
    data = np.asarray(saved["data"], dtype=np.uint32)
    if not saved["typed"]:
        return jnp.asarray(data.reshape(saved["shape"]))
    key_shape = jax.random.key_data(jax.random.key(0, impl=saved["impl"])).shape
    return jax.random.wrap_key_data(
        jnp.asarray(data.reshape(*saved["shape"], *key_shape)), impl=saved["impl"]
    )
