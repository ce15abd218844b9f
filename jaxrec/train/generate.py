"""Trajectories from the compiled store: the scripted oracle and self-generated episodes.

Both are one rollout: a batched chooser picks an offered-action slot per session, `step`
runs vmapped over sessions inside a `lax.scan` over steps, all under `jit`. Only the
choices (as indices into the page's full action list), rewards and done flags come back;
action texts are then named by stepping the reference `AgentEnv` along the same indices,
which also checks the two stores agree. `record_rollout` is the same scan that also keeps
each step's observation, slot and the chooser's aux on device, for PPO.

The oracle is `jaxrec.webshop.baselines.oracle_policy` as array logic: take the first search
candidate; on a results page click the goal product if shown, else `next >` up to page 5,
else the first result (or `back to search` on an empty page); on an item page click each
goal option value not yet selected, then buy; on a sub-page `< prev`. Self-generation (the
paper's self-learning) samples any agent on training goals and keeps the episodes with
reward exactly 1, loops pruned.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrec.data.store_data import StoreData
from jaxrec.env import EnvState, Observation, StoreTables, TimeStep, observe, reset, step
from jaxrec.env.layout import OptionLayout, selected_nodes
from jaxrec.env.state import Act, Page
from jaxrec.train.trajectories import REWARD_TOLERANCE, Source, Trajectory, prune_loops, walk
from jaxrec.webshop.agent_view import AgentEnv
from jaxrec.webshop.baselines import ORACLE_MAX_PAGES
from jaxrec.webshop.pages import RESULTS_PER_PAGE

# choose(params, key, states, timesteps) -> (sessions,) int32 slot among the offered
# actions, or (slot, aux) where aux is a pytree of (sessions, ...) arrays the rollout
# records per step (PPO's log-prob and value of the choice). States are passed as well as
# timesteps because scripted choosers (the oracle) read them.
Chooser = Callable[[Any, jax.Array, EnvState, TimeStep], jax.Array | tuple[jax.Array, Any]]


class Agent(NamedTuple):
    """A batched chooser and the arrays it reads (policy parameters, oracle tables).

    `choose` is a static argument of the compiled rollout and `params` a traced one, so new
    parameters of the same shapes reuse the compiled rollout: keep `choose` one long-lived
    function per kind of agent, not a fresh closure per call.
    """

    choose: Chooser
    params: Any = None


@struct.dataclass
class OracleTables:
    """What the oracle knows of each goal that the store tables do not say: its product and
    its option (name, value) texts, interned so the option nodes can be compared on device."""

    goal_product: jax.Array  # (goals,) int32 product index
    goal_name: jax.Array  # (goals, max_goal_options) int32 text id; -1 pad
    goal_value: jax.Array  # (goals, max_goal_options) int32 text id; -1 pad
    node_name: jax.Array  # (nodes + 1,) int32 text id of each option node's name
    node_value: jax.Array  # (nodes + 1,) int32 text id of each option node's value


def oracle_tables(data: StoreData) -> OracleTables:
    """Oracle tables of the catalog `data` (the one the store tables were compiled from)."""
    layout = OptionLayout.build(data.products)
    ids: dict[str, int] = {}

    def intern(text: str) -> int:
        return ids.setdefault(text, len(ids))

    node_value = [intern(t) for t in layout.node_text] + [-2]  # the dummy node matches nothing
    node_name = [
        intern(layout.names[p][n])
        for p, n in zip(layout.node_product.tolist(), layout.node_name.tolist(), strict=True)
    ] + [-2]
    # oracle_policy only reads goal options given as a name -> value mapping
    pairs = [
        list(g.goal_options.items()) if isinstance(g.goal_options, dict) else [] for g in data.goals
    ]
    width = max([len(p) for p in pairs] + [1])
    goal_name = np.full((len(pairs), width), -1, np.int32)
    goal_value = np.full((len(pairs), width), -1, np.int32)
    for g, goal_pairs in enumerate(pairs):
        for k, (name, value) in enumerate(goal_pairs):
            goal_name[g, k], goal_value[g, k] = intern(name), intern(value)
    by_asin = {p.asin: i for i, p in enumerate(data.products)}
    return OracleTables(
        goal_product=jnp.asarray([by_asin[g.asin] for g in data.goals], jnp.int32),
        goal_name=jnp.asarray(goal_name),
        goal_value=jnp.asarray(goal_value),
        node_name=jnp.asarray(node_name, jnp.int32),
        node_value=jnp.asarray(node_value, jnp.int32),
    )


def _first(mask: jax.Array) -> jax.Array:
    """Index of the first True, -1 if none."""
    return jnp.where(mask.any(), jnp.argmax(mask), -1)


def result_products(tables: StoreTables, state: EnvState) -> jax.Array:
    """(max_actions,) product index behind each offered results-page action (-1 elsewhere).

    The full results list is `back to search`, `< prev` past page 1, `next >`, then the
    page's ten results, so a result's position follows from its full-list index.
    """
    buttons = 2 + (state.page_num > 1)
    position = (state.page_num - 1) * RESULTS_PER_PAGE + state.action_source - buttons
    ranking = tables.search.ranking[jnp.maximum(state.query, 0)]
    product = ranking[jnp.clip(position, 0, ranking.shape[0] - 1)]
    return jnp.where(state.action_kind == Act.PRODUCT, product, -1)


def oracle_choice(tables: StoreTables, oracle: OracleTables, state: EnvState) -> jax.Array:
    """The oracle's slot among one session's offered actions (-1 once the episode is over)."""
    offered = jnp.arange(state.action_kind.shape[0]) < state.num_actions
    kind = jnp.where(offered, state.action_kind, -1)

    def slot(act: Act) -> jax.Array:
        return _first(kind == act)

    items = kind == Act.PRODUCT
    goal_item = _first(items & (result_products(tables, state) == oracle.goal_product[state.goal]))
    fallback = jnp.where(items.any(), _first(items), slot(Act.BACK))
    results = jnp.select(
        [goal_item >= 0, state.page_num < ORACLE_MAX_PAGES], [goal_item, slot(Act.NEXT)], fallback
    )

    # Item page: the first goal option whose value is on offer and not selected under its name.
    nodes = jnp.clip(state.action_arg, 0, oracle.node_value.shape[0] - 1)
    chosen = selected_nodes(tables.options, state.product, state.options)
    chosen_name = jnp.where(chosen >= 0, oracle.node_name[chosen], -2)
    chosen_value = jnp.where(chosen >= 0, oracle.node_value[chosen], -2)
    names, values = oracle.goal_name[state.goal], oracle.goal_value[state.goal]
    on_offer = (kind[None, :] == Act.OPTION) & (
        oracle.node_value[nodes][None, :] == values[:, None]
    )
    selected = (
        (chosen_name[None, :] == names[:, None]) & (chosen_value[None, :] == values[:, None])
    ).any(1)
    wanted = (values >= 0) & on_offer.any(1) & ~selected
    option_slots = jnp.argmax(on_offer, axis=1)
    item = jnp.where(wanted.any(), option_slots[jnp.argmax(wanted)], slot(Act.BUY))

    page = state.page
    on_sub = (page >= Page.DESCRIPTION) & (page <= Page.REVIEWS)
    choice = jnp.select(
        [page == Page.INDEX, page == Page.RESULTS, page == Page.ITEM, on_sub],
        [0, results, item, slot(Act.PREV)],
        -1,
    )
    return jnp.where(state.num_actions > 0, choice, -1).astype(jnp.int32)


def _choose_oracle(
    params: tuple[StoreTables, OracleTables], key: jax.Array, states: EnvState, timesteps: TimeStep
) -> jax.Array:
    return jax.vmap(oracle_choice, in_axes=(None, None, 0))(*params, states)


def oracle_agent(tables: StoreTables, oracle: OracleTables) -> Agent:
    """The oracle as a batched agent."""
    return Agent(_choose_oracle, (tables, oracle))


class Rollout(NamedTuple):
    """A batch of episodes as arrays; `action` is -1 where no action was taken."""

    goal: np.ndarray  # (sessions,) int32
    action: np.ndarray  # (sessions, steps) int32 index in the page's full action list
    reward: np.ndarray  # (sessions, steps) float32
    done: np.ndarray  # (sessions, steps) bool bought at this step or before


class Trace(NamedTuple):
    """A rollout as device arrays, time-major: what `rollout` returns, plus (when recorded)
    what each choice was made on, for learners that rescore the decisions (PPO)."""

    action: jax.Array  # (steps, sessions) int32 full-list index; -1 where none was taken
    reward: jax.Array  # (steps, sessions) float32
    done: jax.Array  # (steps, sessions) bool bought at this step or before
    aux: Any  # the chooser's aux per step, leaves (steps, sessions, ...); None without aux
    slot: jax.Array | None = None  # (steps, sessions) int32 chosen slot, when recorded
    observation: Observation | None = None  # leaves (steps, sessions, ...) seen at the choice


@functools.partial(jax.jit, static_argnames=("choose", "steps", "render", "record"))
def _rollout(
    tables: StoreTables,
    choose: Chooser,
    params: Any,
    goals: jax.Array,
    key: jax.Array,
    steps: int,
    render: bool,
    record: bool = False,
) -> Trace:
    sessions = goals.shape[0]
    reset_key, key = jax.random.split(key)
    states, timesteps = jax.vmap(reset, in_axes=(None, 0, 0))(
        tables, jax.random.split(reset_key, sessions), goals
    )
    # the carry must keep one structure: unrendered observations hold None token arrays
    look = functools.partial(observe, render=render)
    timesteps = timesteps.replace(observation=jax.vmap(look, in_axes=(None, 0))(tables, states))
    advance = jax.vmap(functools.partial(step, render=render), in_axes=(None, 0, 0))

    def body(carry, step_key):
        states, timesteps = carry
        choice = choose(params, step_key, states, timesteps)
        slot, aux = choice if isinstance(choice, tuple) else (choice, None)
        slot = slot.astype(jnp.int32)
        source = jnp.take_along_axis(
            states.action_source, jnp.clip(slot, 0, states.action_source.shape[1] - 1)[:, None], 1
        )[:, 0]
        seen = timesteps.observation
        states, timesteps = advance(tables, states, slot)
        taken = jnp.where(timesteps.invalid, -1, source)
        out = Trace(taken, timesteps.reward, states.done, aux)
        return (states, timesteps), out._replace(slot=slot, observation=seen) if record else out

    _, trace = jax.lax.scan(body, (states, timesteps), jax.random.split(key, steps))
    return trace


def rollout(
    tables: StoreTables,
    agent: Agent,
    goal_indices: Sequence[int],
    key: jax.Array,
    *,
    max_steps: int | None = None,
    render: bool = True,
) -> Rollout:
    """Run `agent` on each goal in parallel for `max_steps` (default: the store's limit).

    `render=False` skips the observation tokens, for agents that do not read them.
    """
    goals = jnp.asarray(goal_indices, jnp.int32)
    trace = _rollout(
        tables, agent.choose, agent.params, goals, key, _steps(tables, max_steps), render
    )
    action, reward, done = (np.swapaxes(x, 0, 1) for x in jax.device_get(trace[:3]))
    return Rollout(np.asarray(goals), action, reward, done)


def record_rollout(
    tables: StoreTables,
    agent: Agent,
    goals: jax.Array,
    key: jax.Array,
    *,
    max_steps: int | None = None,
) -> Trace:
    """`rollout` kept on device and time-major, with each step's rendered observation, chosen
    slot and the chooser's aux recorded; traceable, so it can sit inside a caller's `jit`."""
    return _rollout(
        tables, agent.choose, agent.params, goals, key, _steps(tables, max_steps), True, True
    )


def _steps(tables: StoreTables, max_steps: int | None) -> int:
    return tables.config.max_steps if max_steps is None else max_steps


def to_trajectories(
    env: AgentEnv, batch: Rollout, source: Source, *, sessions: Sequence[int] | None = None
) -> list[Trajectory]:
    """Trajectories of the rollout's sessions, actions named by the reference store.

    Raises when the reference store's rewards differ from the compiled store's.
    """
    chosen = range(len(batch.goal)) if sessions is None else sessions
    return [_named(env, batch, b, source)[0] for b in chosen]


def _named(env: AgentEnv, batch: Rollout, b: int, source: Source) -> tuple[Trajectory, list]:
    """Session `b` as a trajectory, and its page keys (for `prune_loops`)."""
    taken = batch.action[b] >= 0
    indices = batch.action[b][taken].tolist()
    rewards = batch.reward[b][taken].tolist()
    goal = int(batch.goal[b])
    names: list[str] = []

    def pick(t: int, valid: list[str]) -> int:
        names.append(valid[indices[t]])
        return indices[t]

    seen = walk(env, goal, len(indices), pick, f"session {b}")
    for t, (mine, theirs) in enumerate(zip(rewards, seen.rewards, strict=True)):
        if abs(mine - theirs) > REWARD_TOLERANCE:
            raise RuntimeError(
                f"session {b} (goal {goal}): step {t}: compiled reward {mine} but the "
                f"reference store gives {theirs}"
            )
    done = bool(batch.done[b].any())
    trajectory = Trajectory(goal, tuple(names), tuple(indices), tuple(rewards), done, source)
    return trajectory, seen.keys


def oracle_trajectories_compiled(
    tables: StoreTables,
    oracle: OracleTables,
    env: AgentEnv,
    goal_indices: Sequence[int],
    key: jax.Array,
    *,
    max_steps: int | None = None,
) -> list[Trajectory]:
    """The oracle's episodes on the goals, successful or not (see the module docstring).

    `key` only draws the action cap; where the cap hides a goal option, the oracle
    cannot pick it (the reference oracle picks from the full list), so compile without
    the cap (or on a catalog whose pages stay under it) for exact oracle episodes.
    """
    batch = rollout(
        tables, oracle_agent(tables, oracle), goal_indices, key, max_steps=max_steps, render=False
    )
    return to_trajectories(env, batch, "oracle")


def generate_trajectories(
    tables: StoreTables,
    env: AgentEnv,
    agent: Agent,
    goal_indices: Sequence[int],
    key: jax.Array,
    *,
    max_steps: int | None = None,
    render: bool = True,
    source: Source = "generated",
) -> list[Trajectory]:
    """Self-generated trajectories: run `agent` on the goals in parallel, keep the episodes
    with reward exactly 1, loops pruned (the paper's self-learning data). `source` labels
    them (`"oracle"` when the agent is the oracle)."""
    batch = rollout(tables, agent, goal_indices, key, max_steps=max_steps, render=render)
    won = batch.done.any(axis=1) & (batch.reward.max(axis=1) == 1.0)
    kept = []
    for b in np.flatnonzero(won):
        trajectory, keys = _named(env, batch, int(b), source)
        kept.append(prune_loops(trajectory, keys))
    return kept
