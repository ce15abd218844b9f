"""The evaluator's arms as compiled-store agents, mixed so one rollout serves every session.

Built-in arms, the reference baselines of `jaxrec.webshop.baselines` as array logic:

- `rule`: the first search candidate (the instruction) on the search page, the first
  result on a results page (`back to search` if it is empty), else `buy now`.
- `random`: a uniformly random offered action (the capped list the BERT agent sees).
- `oracle`: `jaxrec.train.generate.oracle_agent`, the upper bound that shows search recall.
- `bert`: the untrained choice policy (`make_policy`; tiny and random with `tiny=True`).

Any other name is a checkpoint: a run folder of any training command (its best checkpoint)
or one step folder; its `config.json` says which policy structure to build.

Mixing: arms are grouped by chooser and parameter structure; a group of K > 1 arms stacks
its parameters and vmaps its chooser over them, then each session keeps its own arm's
choice. Every group's chooser runs on every session and the mixed chooser picks per
session, so one compiled rollout serves any assignment of sessions to arms (the assignment
is a traced array: no recompiling per round). The cost: each step runs K policy forwards
per policy group on all B sessions, K × B forwards instead of B (scripted arms are free).
Fine for the few checkpoints an evaluation compares; bucketing sessions by arm would save
the factor K but needs an assignment-dependent shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrec.data.store_data import StoreData
from jaxrec.env import Act, EnvState, Page, StoreTables, TimeStep
from jaxrec.eval.policy_eval import policy_agent
from jaxrec.models.factory import make_policy
from jaxrec.models.policy import ChoicePolicy
from jaxrec.models.tokenizer import WebShopTokenizer
from jaxrec.train.checkpoint import restore_params
from jaxrec.train.generate import Agent, Chooser, oracle_agent, oracle_tables

BUILT_IN = ("rule", "random", "oracle", "bert")
CONFIG_FILE = "config.json"


def _first_slot(states: EnvState, act: Act) -> jax.Array:
    """(sessions,) first offered slot of kind `act`, -1 if none."""
    offered = jnp.arange(states.action_kind.shape[1]) < states.num_actions[:, None]
    hit = offered & (states.action_kind == act)
    return jnp.where(hit.any(1), jnp.argmax(hit, 1), -1)


def _choose_rule(params: None, key: jax.Array, states: EnvState, timesteps: TimeStep) -> jax.Array:
    product, back = _first_slot(states, Act.PRODUCT), _first_slot(states, Act.BACK)
    results = jnp.where(product >= 0, product, back)
    choice = jnp.select(
        [states.page == Page.INDEX, states.page == Page.RESULTS],
        [jnp.zeros_like(product), results],
        _first_slot(states, Act.BUY),
    )
    return jnp.where(states.num_actions > 0, choice, -1).astype(jnp.int32)


def _choose_random(
    params: None, key: jax.Array, states: EnvState, timesteps: TimeStep
) -> jax.Array:
    high = jnp.maximum(states.num_actions, 1)
    return jax.random.randint(key, high.shape, 0, high).astype(jnp.int32)


RULE = Agent(_choose_rule)
RANDOM = Agent(_choose_random)


class Arm(NamedTuple):
    """One named agent, and whether it reads the observation tokens."""

    name: str
    agent: Agent
    reads_tokens: bool


def checkpoint_policy(path: str | Path, name: str | None = None) -> ChoicePolicy:
    """The policy saved in a run folder (its best checkpoint) or a step folder.

    Raises:
        FileNotFoundError: no such folder, no `config.json` beside it, or no checkpoint;
            the message names the arm.
    """
    name = name or str(path)
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(
            f"arm {name!r}: not a built-in arm ({', '.join(BUILT_IN)}) and no such run folder "
            f"or checkpoint {folder}"
        )
    config = next(
        (d / CONFIG_FILE for d in (folder, *folder.parents[:2]) if (d / CONFIG_FILE).is_file()),
        None,
    )
    if config is None:
        raise FileNotFoundError(
            f"arm {name!r}: no {CONFIG_FILE} in {folder} or the two folders above it, so the "
            "policy structure is unknown"
        )
    settings = json.loads(config.read_text(encoding="utf-8"))
    policy, _ = make_policy(settings.get("bert"), tiny=settings.get("tiny", False))
    try:
        restore_params(folder, policy)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"arm {name!r}: {error}") from error
    return policy


def make_arms(
    names: Sequence[str],
    tables: StoreTables,
    data: StoreData,
    tokenizer: WebShopTokenizer,
    *,
    tiny: bool = False,
    bert: str | None = None,
    greedy: bool = True,
    seed: int = 0,
) -> list[Arm]:
    """The arms named: built-ins or checkpoint folders (see the module docstring); `tiny`,
    `bert` and `seed` build the `bert` arm as `make_policy` does.

    Raises:
        ValueError: a repeated name, or a policy whose vocabulary is not the store's.
        FileNotFoundError: a name that is neither built in nor a checkpoint.
    """
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"arms must be distinct and at least one, got {list(names)}")
    arms = []
    for name in names:
        if name == "rule":
            arms.append(Arm(name, RULE, False))
        elif name == "random":
            arms.append(Arm(name, RANDOM, False))
        elif name == "oracle":
            arms.append(Arm(name, oracle_agent(tables, oracle_tables(data)), False))
        else:
            policy = (
                make_policy(bert, tiny=tiny, seed=seed)[0]
                if name == "bert"
                else checkpoint_policy(name)
            )
            vocab = policy.encoder.config.vocab_size
            if vocab < len(tokenizer):
                raise ValueError(
                    f"arm {name!r}: its vocabulary has {vocab} tokens but the store's "
                    f"tokenizer has {len(tokenizer)}"
                )
            arms.append(Arm(name, policy_agent(policy, greedy=greedy), True))
    return arms


def _slot(choice: jax.Array | tuple[jax.Array, Any]) -> jax.Array:
    """A chooser's slots; the aux some choosers add (for learners) is not needed here."""
    return choice[0] if isinstance(choice, tuple) else choice


@functools.cache
def _stacked(choose: Chooser) -> Chooser:
    """K arms of one chooser: vmap it over their stacked parameters, keep each session's."""

    def choose_stacked(
        params: tuple[Any, jax.Array], key: jax.Array, states: EnvState, timesteps: TimeStep
    ) -> jax.Array:
        stacked, member = params
        choice = jax.vmap(choose, in_axes=(0, None, None, None))(stacked, key, states, timesteps)
        slots = _slot(choice)
        return jnp.take_along_axis(slots, member[None], 0)[0]

    return choose_stacked


@functools.cache
def _mixed(groups: tuple[tuple[Chooser, bool], ...]) -> Chooser:
    """Every group's choice for every session, then each session's own group's; a group is
    (chooser, stacked), where a stacked chooser also takes each session's member index. A
    group none of whose sessions is still playing is skipped (`lax.cond`), so policies stop
    costing once their episodes have ended."""

    def choose_mixed(
        params: tuple[tuple[Any, ...], jax.Array, jax.Array],
        key: jax.Array,
        states: EnvState,
        timesteps: TimeStep,
    ) -> jax.Array:
        group_params, group, member = params
        keys = jax.random.split(key, len(groups))
        playing = states.num_actions > 0

        def group_slots(g: int, choose: Chooser, stacked: bool, p: Any, k: jax.Array):
            def run() -> jax.Array:
                args = (p, member) if stacked else p
                return _slot(choose(args, k, states, timesteps)).astype(jnp.int32)

            idle = jnp.full(group.shape, -1, jnp.int32)
            return jax.lax.cond((playing & (group == g)).any(), run, lambda: idle)

        slots = jnp.stack(
            [
                group_slots(g, choose, stacked, p, k)
                for g, ((choose, stacked), p, k) in enumerate(
                    zip(groups, group_params, keys, strict=True)
                )
            ]
        )
        return jnp.take_along_axis(slots, group[None], 0)[0]

    return choose_mixed


def _signature(agent: Agent) -> tuple[Any, ...]:
    """Arms with equal signatures can be stacked: same chooser, same parameter shapes."""
    leaves, treedef = jax.tree.flatten(agent.params)
    return agent.choose, treedef, tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves)


class ArmSet(NamedTuple):
    """Arms mixed into one agent; `agent(arms)` plays session b as arm `arms[b]`."""

    names: tuple[str, ...]
    choose: Chooser
    group_params: tuple[Any, ...]  # per group: its arm's params, or its arms' stacked
    arm_group: jax.Array  # (arms,) int32
    arm_member: jax.Array  # (arms,) int32 position in its group's stack
    reads_tokens: bool  # render observation tokens (a policy arm is present)

    def agent(self, arms: jax.Array) -> Agent:
        """The mixed agent for a (sessions,) arm index per session."""
        return Agent(self.choose, (self.group_params, self.arm_group[arms], self.arm_member[arms]))


def mix(arms: Sequence[Arm]) -> ArmSet:
    """Group and stack the arms (see the module docstring)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, arm in enumerate(arms):
        groups.setdefault(_signature(arm.agent), []).append(index)
    arm_group, arm_member = [0] * len(arms), [0] * len(arms)
    choosers, group_params = [], []  # choosers: (chooser, stacked)
    for g, members in enumerate(groups.values()):
        for m, index in enumerate(members):
            arm_group[index], arm_member[index] = g, m
        agents = [arms[i].agent for i in members]
        if len(agents) == 1:
            choosers.append((agents[0].choose, False))
            group_params.append(agents[0].params)
        else:
            choosers.append((_stacked(agents[0].choose), True))
            group_params.append(jax.tree.map(lambda *x: jnp.stack(x), *[a.params for a in agents]))
    return ArmSet(
        tuple(a.name for a in arms),
        _mixed(tuple(choosers)),
        tuple(group_params),
        jnp.asarray(arm_group, jnp.int32),
        jnp.asarray(arm_member, jnp.int32),
        any(a.reads_tokens for a in arms),
    )
