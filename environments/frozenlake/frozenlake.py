"""FrozenLake as text: the CPU learning demo (see docs and `specs/CPU-LEARNING.md`).

The observation is the grid and nothing else (`prompt="grid"`; `prompt="instruct"` adds a line with
the moves and the reply format, for small chat models), one word per cell, rows joined by `|`, the agent's
cell shown as `@`: `@ F F F | H H F F | F H H F | H F F G`. Every word of every observation is in
`vocabulary()`, so `model=tiny` can learn from scratch with a 10-word tokenizer. Maps are seeded
random maps (`generate_random_map`); a task names one map, so the episodes of a group share it and
GiGPO can group turns by `state_key = "<map id>:<cell>"`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property

import gymnasium as gym
from agentrl.environments.frozenlake.demos import demonstration
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv, generate_random_map

from agentrl.env import GymnasiumEnv
from agentrl.types import Task

ACTIONS = ("left", "down", "right", "up")
"""In gymnasium's action order: index 0 is left, 1 down, 2 right, 3 up."""

AGENT = "@"
ROW_SEPARATOR = "|"
VOCABULARY = ("S", "F", "H", "G", AGENT, ROW_SEPARATOR, *ACTIONS)
SPLITS = ("train", "eval")
PROMPTS = ("grid", "instruct")

SYSTEM_PROMPT = (
    "You walk on a frozen lake drawn as a grid of cells, rows separated by '|' and listed from the top "
    "row down: S is the start, F frozen ice, H a hole, G the goal, and @ is where you stand. Reach G "
    "without stepping into a hole; walking off the edge leaves you where you are.\n"
    "Each turn you see the grid and choose one move: left, down, right or up. First think briefly "
    "inside <think> </think> about where @ is and which move brings it closer to G, then give the move "
    "inside <action> </action>. Example reply:\n"
    "<think>@ is in the top row and G is below it; the cell below is F.</think><action>down</action>"
)
"""Read by chat models only: `model=tiny`'s chat template leaves system messages out, so its token
streams never see it (a one-token policy answers with the bare word, which parses too)."""
TURN_REMINDER = "Which move: left, down, right or up? Answer like <action>down</action>."
"""Ends every observation under `prompt="instruct"`. Measured on SmolLM2-135M-Instruct: with the grid
alone it copies the grid back; labelled "Current grid:" and with this line last, it answers in the
format."""


def render_grid(env: gym.Env, observation: int) -> str:
    """The map with the agent's cell replaced by `@`."""
    desc = env.unwrapped.desc  # numpy array of single-byte cells
    n_cols = desc.shape[1]
    rows = [[cell.decode() for cell in row] for row in desc]
    rows[observation // n_cols][observation % n_cols] = AGENT
    return f" {ROW_SEPARATOR} ".join(" ".join(row) for row in rows)


def render_with_reminder(env: gym.Env, observation: int) -> str:
    """The grid, then the moves and the reply format (`prompt="instruct"`, for small chat models)."""
    return f"Current grid: {render_grid(env, observation)}\n{TURN_REMINDER}"


def map_seed(seed: int, split: str, index: int, attempt: int = 0) -> int:
    """A 32-bit seed from (seed, split, index): stable across runs and Python versions (unlike hash())."""
    digest = hashlib.sha256(f"frozenlake:{seed}:{split}:{index}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class FrozenLake:
    """The frozenlake `EnvSpec`.

    `num_maps=None` gives every train task a fresh random map (the agent must read the grid);
    an int makes train tasks cycle over that many fixed maps (eval maps then exclude them, so eval is
    held out). Eval tasks are always fresh maps from seeds that train never uses.
    """

    def __init__(
        self,
        size: int = 4,
        p_frozen: float = 0.8,
        is_slippery: bool = False,
        max_turns: int = 12,
        invalid_action_penalty: float = 0.1,
        num_maps: int | None = None,
        seed: int = 0,
        prompt: str = "grid",
    ) -> None:
        if prompt not in PROMPTS:
            raise ValueError(
                f"unknown prompt {prompt!r}; frozenlake has: grid (the grid alone, inside model=tiny's "
                "vocabulary) and instruct (the grid, then which moves there are and the reply format)"
            )
        if size < 2:
            raise ValueError(f"size must be at least 2 (a start and a goal), got {size}")
        if not 0.0 < p_frozen <= 1.0:
            raise ValueError(f"p_frozen must be in (0, 1], got {p_frozen}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if invalid_action_penalty < 0:
            raise ValueError(
                f"invalid_action_penalty must be >= 0 (it is subtracted), got {invalid_action_penalty}"
            )
        if num_maps is not None and num_maps < 1:
            raise ValueError(f"num_maps must be None (a new map per task) or at least 1, got {num_maps}")
        self.size = size
        self.p_frozen = p_frozen
        self.is_slippery = is_slippery
        self.max_turns = max_turns
        self.invalid_action_penalty = invalid_action_penalty
        self.num_maps = num_maps
        self.seed = seed
        self.prompt = prompt
        self.system_prompt = SYSTEM_PROMPT

    def task(self, split: str, index: int) -> Task:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; frozenlake has: {', '.join(SPLITS)}")
        if index < 0:
            raise ValueError(f"task index must be >= 0, got {index}")
        if split == "train" and self.num_maps is not None:
            index %= self.num_maps
        rows, task_seed = self._map(split, index)
        return Task(
            task_id=f"frozenlake-{split}-{index}",
            seed=task_seed,
            payload={"map": rows, "size": self.size, "is_slippery": self.is_slippery},
        )

    def num_tasks(self, split: str) -> int | None:
        return self.num_maps if split == "train" else None

    def make_env(self) -> GymnasiumEnv:
        return GymnasiumEnv(
            make_env=lambda task: FrozenLakeEnv(desc=list(task.payload["map"]), is_slippery=self.is_slippery),
            action_words=ACTIONS,
            render=render_grid if self.prompt == "grid" else render_with_reminder,
            state_id=lambda task: task.task_id,
            invalid_action_penalty=self.invalid_action_penalty,
            # Under the grid prompt the reminder is the list of valid words: it stays inside
            # vocabulary() for model=tiny. The instruct prompt shows the plain-English error.
            format_error=(lambda action: " ".join(ACTIONS)) if self.prompt == "grid" else None,
        )

    def vocabulary(self) -> Sequence[str]:
        return list(VOCABULARY)

    def demonstration(self, task: Task) -> list[str] | None:
        """The expert's replies: the shortest safe path of the task's map (`agentrl.environments.frozenlake.demos`)."""
        return demonstration(task)

    def _map(self, split: str, index: int) -> tuple[list[str], int]:
        """The map of a task and its seed; held-out eval maps skip any map train uses."""
        for attempt in range(1000):
            task_seed = map_seed(self.seed, split, index, attempt)
            rows = generate_random_map(size=self.size, p=self.p_frozen, seed=task_seed)
            if split == "train" or tuple(rows) not in self._fixed_train_maps:
                return rows, task_seed
        raise ValueError(
            f"no eval map of size {self.size} differs from the {self.num_maps} train maps; "
            "use a larger size or fewer num_maps"
        )

    @cached_property
    def _fixed_train_maps(self) -> frozenset[tuple[str, ...]]:
        if self.num_maps is None:
            return frozenset()
        return frozenset(tuple(self._map("train", index)[0]) for index in range(self.num_maps))
