"""Built-in agents for the reference store: rule, random and oracle, and an episode runner.

- rule: WebShop's rule baseline: search the instruction, buy the first result.
- random: uniformly random valid actions (the agent's view) until the episode ends.
- oracle: search the instruction, page (at most 5 pages) to the goal product, click it,
  pick the goal's option values, buy; an upper bound that exposes search recall (where the
  goal product is not in the 50 results it buys the last page's first result).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jaxrec.webshop.agent_view import AgentEnv

Policy = Callable[[AgentEnv, list[str], np.random.Generator], str]
ORACLE_MAX_PAGES = 5


@dataclass(frozen=True)
class Episode:
    """What one episode produced."""

    goal_index: int
    reward: float
    steps: int
    actions: tuple[str, ...]

    @property
    def success(self) -> bool:
        return self.reward == 1.0


def rule_policy(env: AgentEnv, actions: list[str], rng: np.random.Generator) -> str:
    page = env.store.page
    if page.has_search_bar:
        return actions[0]
    if page.kind == "results":
        items = [a for a in actions if a.startswith("click[item - ")]
        return items[0] if items else "click[back to search]"
    return "click[buy now]"


def random_policy(env: AgentEnv, actions: list[str], rng: np.random.Generator) -> str:
    return actions[int(rng.integers(len(actions)))]


def oracle_policy(env: AgentEnv, actions: list[str], rng: np.random.Generator) -> str:
    store = env.store
    page, goal, location = store.page, store.session.goal, store.session.location
    if page.has_search_bar:
        return f"search[{goal.instruction_text}]"
    if page.kind == "results":
        target = goal.asin.lower()
        if target in page.clickables:
            return f"click[{target}]"
        if location.page < ORACLE_MAX_PAGES:
            return "click[next >]"
        return rule_policy(env, actions, rng)  # not found: settle for this page's first result
    if page.kind == "sub":
        return "click[< prev]"
    options = goal.goal_options if isinstance(goal.goal_options, dict) else {}
    for name, value in options.items():
        if value in page.clickables and location.options.get(name) != value:
            return f"click[{value}]"
    return "click[buy now]"


def run_episode(
    env: AgentEnv, policy: Policy, goal_index: int, rng: np.random.Generator
) -> Episode:
    """Play one episode of `policy` on goal `goal_index` to its end (buy or step limit)."""
    _, info = env.reset(goal_index=goal_index)
    actions = info["valid_actions"]
    taken = []
    while True:
        action = policy(env, actions, rng)
        taken.append(action)
        _, reward, done, info = env.step(action)
        if done:
            return Episode(goal_index, reward, len(taken), tuple(taken))
        actions = info["valid_actions"]


POLICIES: dict[str, Policy] = {
    "rule": rule_policy,
    "random": random_policy,
    "oracle": oracle_policy,
}
