"""Oracle demonstrations from the reference store, as (state, valid actions, gold) steps.

The oracle (`jaxrec.webshop.baselines.oracle_policy`) shops each goal perfectly where search
allows; each of its decisions becomes one imitation example in the agent's own terms
(result clicks named `click[item - title]`, WebShop's 6 + 10-random cap with the gold action
kept). Only successful episodes are kept, so every gold action leads to reward 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from jaxrec.webshop.agent_view import ITEM_PREFIX, AgentEnv, cap_actions
from jaxrec.webshop.baselines import oracle_policy


@dataclass(frozen=True)
class ChoiceStep:
    """One decision: the observation, the actions offered, and the index of the gold one."""

    goal_index: int
    observation: str
    actions: tuple[str, ...]
    gold: int


def _agent_name(env: AgentEnv, action: str) -> str:
    """The oracle clicks results by ASIN; the agent sees them as `click[item - title]`."""
    node = env.store.page.clickables.get(action[len("click[") : -1])
    if action.startswith("click[") and node is not None and node.kind == "product":
        return f"click[{ITEM_PREFIX}{env.store.by_asin[node.text].title.lower()}]"
    return action


def oracle_demonstrations(
    env: AgentEnv, goal_indices: Iterable[int], rng: np.random.Generator
) -> list[ChoiceStep]:
    """The steps of the oracle's successful episodes on the given goals."""
    steps: list[ChoiceStep] = []
    for goal_index in goal_indices:
        observation, info = env.reset(goal_index=int(goal_index))
        episode: list[ChoiceStep] = []
        reward, done = 0.0, False
        while not done:
            valid = info["valid_actions"]
            gold = _agent_name(env, oracle_policy(env, valid, rng))
            offered = cap_actions(valid, rng, keep=gold)
            episode.append(
                ChoiceStep(int(goal_index), observation, tuple(offered), offered.index(gold))
            )
            observation, reward, done, info = env.step(gold)
        if reward == 1.0:
            steps.extend(episode)
    return steps
