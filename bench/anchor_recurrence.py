"""Do GiGPO's anchor states recur when agents take valid actions? Step-group sizes per environment.

GiGPO's step level only helps when turns of a task group share a `state_key` (ALGORITHMS.md §1.2):
a turn alone in its anchor group gets step advantage 0. A freshly initialised model answers with
invalid actions, which leave the state unchanged, so its histogram is trivially "all recurring" and
says nothing. This plays episodes with policies that only take *valid* actions, through the real
environments (`make_env_spec` → `make_env`, `reset`, `step`), and measures the groups with the
project's own grouping code (`step_group_sizes`, as the trainer logs it):

- `p_expert = 0`: uniform over the currently valid actions (frozenlake: the 4 moves; alfworld: the
  admissible commands; webshop: the clickables, and on the search page a query of goal words).
- `p_expert > 0`: each turn, with probability p, the expert's action instead (frozenlake: a shortest
  path to G from the current cell; webshop: search the goal product's title, open it, pick its goal
  options, buy; alfworld: the game's walkthrough, resumed where the agent left it — see
  `AlfworldPolicy`, it is not a replanner).

Groups are as in training: G tasks, N episodes each on the same task, each trajectory's `group_id`
built like the rollout's. The output is one markdown row per (environment, p): the share of turns per
anchor-group size bin (the trainer's `step_group_size_histogram` bins), the share of turns in
non-singleton groups (of all turns, and of the turns taken away from the start state, which every
episode of a group shares by construction and which `back to search` / `look` return to), and the
mean group size (per turn, and per anchor group).

    python bench/anchor_recurrence.py                                   # all three envs, p = 0 and 0.5
    python bench/anchor_recurrence.py --envs webshop --webshop-query instruction
    python bench/anchor_recurrence.py --anchors state history_k --history-k 2    # HGPO-style keys too
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shlex
import statistics
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from agentrl.environments.frozenlake import ACTIONS as FROZENLAKE_MOVES
from agentrl.environments.webshop.site import PAGE_SIZE

from agentrl.credit import step_group_sizes
from agentrl.credit.gigpo import ANCHORS, anchor_groups
from agentrl.credit.groups import trainable_groups
from agentrl.env.protocol import EnvSpec
from agentrl.env.registry import make_env_spec
from agentrl.rollout.collect import group_id_for
from agentrl.trainer.metrics import step_group_size_histogram
from agentrl.types import StepResult, Task, Trajectory, Turn

WEBSHOP_QUERIES = ("words", "instruction")
"""How the random webshop policy searches: a random subset of the instruction's words (almost every
query differs, so result pages rarely recur), or the whole instruction (every search lands on the
same results page: an upper bound, close to what a prompted LLM often does)."""


class ValidActionPolicy(Protocol):
    """Chooses one turn's action from the env's current valid actions; one instance per episode,
    because the experts read the episode's state (and the alfworld one remembers its progress)."""

    def valid_actions(self) -> Sequence[str]: ...

    def expert_action(self) -> str | None:
        """The expert's action here, or None when it has none (the random action is taken then)."""
        ...

    def observe(self, action: str, result: StepResult) -> None:
        """Called after each valid step with the action taken and what the env returned."""
        ...


def tagged(action: str) -> str:
    """The reply the `gigpo` prompt expects; the environment parses the action out of it."""
    return f"<think>chosen by the benchmark policy</think><action>{action}</action>"


class FrozenLakePolicy:
    """The 4 moves are always valid (a move into the edge stays put); the expert walks a shortest path."""

    def __init__(self, task: Task, reset: StepResult) -> None:
        self.rows: list[str] = list(task.payload["map"])
        self.cell = self.cell_of(reset)

    @staticmethod
    def cell_of(result: StepResult) -> int:
        # The adapter's key is "<task id>:<cell index>" (gymnasium_adapter); the cell is all we need.
        return int((result.state_key or "0").rpartition(":")[2])

    def valid_actions(self) -> Sequence[str]:
        return FROZENLAKE_MOVES

    def expert_action(self) -> str | None:
        size = len(self.rows)
        moves = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}
        start = divmod(self.cell, size)
        queue: deque[tuple[tuple[int, int], str | None]] = deque([(start, None)])
        seen = {start}
        while queue:
            (row, col), first_move = queue.popleft()
            for move, (d_row, d_col) in moves.items():
                cell = (row + d_row, col + d_col)
                if not (0 <= cell[0] < size and 0 <= cell[1] < size) or cell in seen:
                    continue
                kind = self.rows[cell[0]][cell[1]]
                if kind == "G":
                    return first_move or move
                if kind in "SF":
                    seen.add(cell)
                    queue.append((cell, first_move or move))
        return None

    def observe(self, action: str, result: StepResult) -> None:
        self.cell = self.cell_of(result)


class WebShopPolicy:
    """Clicks what the page offers; on the search page it searches words of the goal instruction."""

    def __init__(self, env: Any, task: Task, rng: random.Random, query_mode: str) -> None:
        self.env = env  # WebShopEpisode: its `session` is the site state the page is rendered from
        self.rng = rng
        self.query_mode = query_mode
        self.goal = env.spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]
        self.title = env.spec.catalogue.products[self.goal.asin].title

    def valid_actions(self) -> Sequence[str]:
        session = self.env.session
        if session.page != "search":
            return session.admissible_actions()
        words = self.goal.instruction.split()
        if self.query_mode == "instruction":
            return [f"search[{self.goal.instruction}]"]
        kept = [word for word in words if self.rng.random() < 0.5] or [self.rng.choice(words)]
        return [f"search[{' '.join(kept)}]"]

    def expert_action(self) -> str | None:
        """The test suite's expert (search title, open, options, buy), made to recover from detours."""
        session = self.env.session
        if session.page == "search":
            return f"search[{self.title}]"
        if session.page == "results":
            if self.goal.asin.lower() in session.clickables():
                return f"click[{self.goal.asin.lower()}]"
            if self.goal.asin not in session.results:
                return "click[back to search]"
            goal_page = session.results.index(self.goal.asin) // PAGE_SIZE + 1
            return "click[next >]" if goal_page > session.page_number else "click[< prev]"
        if session.page == "item" and session.asin == self.goal.asin:
            missing = [v for name, v in self.goal.option_choice.items() if session.options.get(name) != v]
            return f"click[{missing[0]}]" if missing else "click[buy now]"
        return "click[< prev]"  # a wrong item or a sub-page: one step back

    def observe(self, action: str, result: StepResult) -> None:
        pass


class AlfworldPolicy:
    """Admissible commands; the expert follows the game's walkthrough from where the agent left it.

    The expert's next command is the first walkthrough command not yet taken; if a random detour made
    it inadmissible (the agent walked away), it goes back to the walkthrough's last `go to`; if that
    fails too (a detour moved an object), it has no action and the turn is random. Replanning with
    TextWorld's planner would be exact but costs ~4 s per call on this machine.
    """

    def __init__(self, env: Any) -> None:
        self.env = env  # ALFWorldEpisode: `view.admissible_commands`, `walkthrough`
        self.walkthrough: tuple[str, ...] = env.walkthrough
        self.progress = 0

    def valid_actions(self) -> Sequence[str]:
        return self.env.view.admissible_commands

    def expert_action(self) -> str | None:
        admissible = set(self.env.view.admissible_commands)
        if self.progress < len(self.walkthrough) and self.walkthrough[self.progress] in admissible:
            return self.walkthrough[self.progress]
        go_tos = [command for command in self.walkthrough[: self.progress] if command.startswith("go to ")]
        return go_tos[-1] if go_tos and go_tos[-1] in admissible else None

    def observe(self, action: str, result: StepResult) -> None:
        if self.progress < len(self.walkthrough) and action == self.walkthrough[self.progress]:
            self.progress += 1


@dataclass(frozen=True)
class Measurement:
    env_name: str
    p_expert: float
    label: str
    groups: int
    group_size: int
    trajectories: list[Trajectory]
    seconds: float


async def play_episode(
    spec: EnvSpec, env_name: str, task: Task, group_id: str, rng: random.Random, p_expert: float, query: str
) -> Trajectory:
    """One episode, recorded like `run_episode` records it, minus the model (no token ids)."""
    trajectory = Trajectory(task_id=task.task_id, group_id=group_id, env_name=env_name, seed=task.seed)
    env = spec.make_env()
    wrap = tagged if getattr(spec, "prompt", None) == "gigpo" else str
    try:
        observed: StepResult = await env.reset(task)
        policy: ValidActionPolicy
        if env_name == "frozenlake":
            policy = FrozenLakePolicy(task, observed)
        elif env_name == "webshop":
            policy = WebShopPolicy(env, task, rng, query)
        else:
            policy = AlfworldPolicy(env)
        for _ in range(spec.max_turns):
            expert = policy.expert_action() if rng.random() < p_expert else None
            action = expert if expert is not None else rng.choice(list(policy.valid_actions()))
            result = await env.step(wrap(action))
            if result.failure is not None:
                raise RuntimeError(
                    f"{env_name}: the benchmark policy chose an invalid action {action!r}: "
                    f"{result.observation[:300]!r}"
                )
            policy.observe(action, result)
            trajectory.turns.append(
                Turn(
                    observation_ids=[],
                    action_ids=[],
                    behaviour_logprobs=[],
                    policy_version=0,
                    action_text=action,
                    parsed_action=result.action,
                    state_key=observed.state_key,
                    result=result,
                )
            )
            if result.done or result.truncated:
                trajectory.termination = "done" if result.done else "truncated"
                break
            observed = result
        else:
            trajectory.termination = "max_turns"
    finally:
        await env.close()
    last = trajectory.turns[-1].result if trajectory.turns else None
    trajectory.metrics["success"] = float(bool(last is not None and last.success))
    return trajectory


async def measure(
    env_name: str, p_expert: float, groups: int, group_size: int, seed: int, query: str
) -> Measurement:
    """G groups × N episodes, played one after another (alfworld runs on one game thread anyway)."""
    spec = make_env_spec(env_name)
    started = time.perf_counter()
    trajectories = []
    for group in range(groups):
        task = spec.task("train", group)
        for member in range(group_size):
            rng = random.Random(f"{seed}:{env_name}:{p_expert}:{query}:{group}:{member}")
            trajectories.append(
                await play_episode(spec, env_name, task, group_id_for(0, group, task), rng, p_expert, query)
            )
    label = f"{env_name} (query: {query})" if env_name == "webshop" else env_name
    return Measurement(
        env_name, p_expert, label, groups, group_size, trajectories, time.perf_counter() - started
    )


def group_of_turn(
    trajectories: Sequence[Trajectory], anchor: str, history_k: int
) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Each trainable turn's anchor group, from GiGPO's own `anchor_groups`, task group by task group."""
    return {
        turn: group
        for members in trainable_groups(trajectories).values()
        for group in anchor_groups(trajectories, members, anchor=anchor, history_k=history_k)
        for turn in group
    }


def spans_episodes(group: list[tuple[int, int]]) -> bool:
    """A group that only holds turns of one episode (a loop back to a page, a `look`) compares the
    episode with itself; a group spanning two or more episodes is the comparison GiGPO is built on."""
    return len({trajectory for trajectory, _ in group}) > 1


def webshop_pages(
    measurement: Measurement, anchor: str, history_k: int
) -> dict[str, tuple[float, float, float]]:
    """Per page type (the first field of the site's state key): share of turns, share of them in a
    non-singleton group, share in a group spanning episodes. Says *which* pages recur."""
    groups = group_of_turn(measurement.trajectories, anchor, history_k)
    counts: dict[str, list[int]] = {}
    for (i, t), group in groups.items():
        page = (measurement.trajectories[i].turns[t].state_key or "?").split("|")[1]
        count = counts.setdefault(page, [0, 0, 0])
        count[0] += 1
        count[1] += len(group) > 1
        count[2] += spans_episodes(group)
    return {
        page: (n / len(groups), recurring / n, cross / n) for page, (n, recurring, cross) in counts.items()
    }


def summary(measurement: Measurement, anchor: str, history_k: int) -> dict[str, float]:
    """Histogram bins plus the shares and means that say whether the step level has signal."""
    trajectories = measurement.trajectories
    sizes = step_group_sizes(trajectories, anchor=anchor, history_k=history_k)
    # `step_group_sizes` lists trajectory by trajectory, turn by turn; the start state (the reset's
    # key, shared by every episode of a group by construction) recurs trivially, so it is also left out.
    keys = [(turn.state_key, tr.turns[0].state_key) for tr in trajectories for turn in tr.turns]
    away_sizes = [size for size, (key, start) in zip(sizes, keys) if key != start]
    groups = group_of_turn(trajectories, anchor, history_k)
    cross_episode = sum(spans_episodes(group) for group in groups.values())
    return {
        "turns": len(sizes),
        "turns_per_episode": len(sizes) / len(trajectories),
        "success": statistics.fmean(t.metrics["success"] for t in trajectories),
        **step_group_size_histogram(sizes),
        "non_singleton": sum(size > 1 for size in sizes) / len(sizes),
        "cross_episode": cross_episode / len(sizes),
        "away_from_start": len(away_sizes) / len(sizes),
        "non_singleton_away": (sum(size > 1 for size in away_sizes) / len(away_sizes)) if away_sizes else 0.0,
        "mean_size_per_turn": statistics.fmean(sizes),
        "mean_size_per_group": len(sizes) / sum(1 / size for size in sizes),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["frozenlake", "webshop", "alfworld"])
    parser.add_argument("--p-expert", nargs="+", type=float, default=[0.0, 0.5])
    parser.add_argument("--groups", type=int, default=4, help="tasks per environment (frozenlake, webshop)")
    parser.add_argument("--group-size", type=int, default=8, help="episodes per task, as rollout.group_size")
    parser.add_argument(
        "--alfworld-groups", type=int, default=2, help="alfworld tasks (an episode takes ~10 s)"
    )
    parser.add_argument("--webshop-query", nargs="+", choices=WEBSHOP_QUERIES, default=list(WEBSHOP_QUERIES))
    parser.add_argument(
        "--anchors", nargs="+", choices=ANCHORS, default=["state"], help="GiGPO anchors, one row each"
    )
    parser.add_argument("--history-k", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--webshop-pages", action="store_true", help="also break webshop turns down by page")
    args = parser.parse_args(argv)
    print("$ python bench/anchor_recurrence.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {platform.machine()}, "
        f"{os.cpu_count()} logical cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    columns = [
        ("turns_per_episode", "turns/episode", ".1f"),
        ("success", "success", ".2f"),
        *((label, f"size {label}", ".2f") for label in step_group_size_histogram([])),
        ("non_singleton", "non-singleton", ".2f"),
        ("cross_episode", "in a group spanning ≥2 episodes", ".2f"),
        ("away_from_start", "turns off the start state", ".2f"),
        ("non_singleton_away", "non-singleton off the start state", ".2f"),
        ("mean_size_per_turn", "mean size per turn", ".1f"),
        ("mean_size_per_group", "mean size per group", ".1f"),
    ]
    titles = " | ".join(title for _, title, _ in columns)
    print(f"\n| env | p_expert | groups × episodes | anchor | {titles} | s |")
    print("|---|---|---|---|" + "---|" * len(columns) + "---|")
    page_breakdowns: list[Measurement] = []
    for env_name in args.envs:
        groups = args.alfworld_groups if env_name == "alfworld" else args.groups
        for query in args.webshop_query if env_name == "webshop" else ["-"]:
            for p_expert in args.p_expert:
                result = asyncio.run(measure(env_name, p_expert, groups, args.group_size, args.seed, query))
                if env_name == "webshop" and args.webshop_pages:
                    page_breakdowns.append(result)
                for anchor in args.anchors:  # the same episodes, grouped by each anchor
                    row = summary(result, anchor, args.history_k)
                    cells = " | ".join(format(row[key], spec) for key, _, spec in columns)
                    anchor_name = f"history_k={args.history_k}" if anchor == "history_k" else anchor
                    print(
                        f"| {result.label} | {p_expert:g} | {groups} × {args.group_size} | {anchor_name} | "
                        f"{cells} | {result.seconds:.0f} |",
                        flush=True,
                    )
    if page_breakdowns:
        print("\nwebshop turns per page type: share of turns (non-singleton / in a group spanning episodes)")
    for result in page_breakdowns:
        for anchor in args.anchors:
            pages = webshop_pages(result, anchor, args.history_k)
            cells = ", ".join(
                f"{page} {share:.2f} ({recurring:.2f} / {cross:.2f})"
                for page, (share, recurring, cross) in sorted(pages.items(), key=lambda item: -item[1][0])
            )
            print(f"- {result.label}, p_expert {result.p_expert:g}, {anchor}: {cells}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
