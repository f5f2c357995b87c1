"""Text FrozenLake through the async Env API: real gymnasium episodes, an expert that proves solvability."""

from __future__ import annotations

import asyncio
from collections import deque

import gymnasium as gym
import pytest
from agentrl.environments.frozenlake import ACTIONS, FrozenLake

from agentrl.env import Env, EnvSpec
from agentrl.env.gymnasium_adapter import GymnasiumEnv, parse_action_word
from agentrl.types import StepResult, Task
from tests.fixtures.episodes import play

MOVES = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}


def shortest_path(rows: list[str], target: str) -> list[str] | None:
    """Breadth-first search from S over frozen cells to the nearest `target` cell (G or H)."""
    size = len(rows)
    queue: deque[tuple[tuple[int, int], list[str]]] = deque([((0, 0), [])])
    seen = {(0, 0)}
    while queue:
        (row, col), path = queue.popleft()
        for word, (d_row, d_col) in MOVES.items():
            nxt = (row + d_row, col + d_col)
            if not (0 <= nxt[0] < size and 0 <= nxt[1] < size) or nxt in seen:
                continue
            cell = rows[nxt[0]][nxt[1]]
            if cell == target:
                return [*path, word]
            if cell in "SF":
                seen.add(nxt)
                queue.append((nxt, [*path, word]))
    return None


def agent_cell(observation: str, size: int) -> int:
    grid = observation.splitlines()[-1]  # an error message, when there is one, comes first
    cells = [cell for row in grid.split(" | ") for cell in row.split(" ")]
    assert len(cells) == size * size
    return cells.index("@")


def test_spec_satisfies_the_protocols() -> None:
    spec = FrozenLake()
    assert isinstance(spec, EnvSpec) and isinstance(spec.make_env(), Env)
    assert spec.max_turns == 12 and spec.num_tasks("train") is None and spec.num_tasks("eval") is None
    assert FrozenLake(num_maps=8).num_tasks("train") == 8 and FrozenLake(num_maps=8).num_tasks("eval") is None
    assert spec.vocabulary() == ["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"]
    assert all(word in spec.system_prompt for word in ACTIONS)


@pytest.mark.parametrize(("size", "split"), [(4, "train"), (4, "eval"), (8, "train")])
def test_expert_reaches_the_goal(size: int, split: str) -> None:
    spec = FrozenLake(size=size)
    for index in range(10):
        task = spec.task(split, index)
        path = shortest_path(task.payload["map"], "G")
        assert path is not None, f"{task.task_id} has no path: generate_random_map promises one"
        reset, *steps = play(spec, task, path)
        assert reset.observation.startswith("@ ")
        assert [step.reward for step in steps] == [0.0] * (len(path) - 1) + [1.0]
        assert [step.done for step in steps] == [False] * (len(path) - 1) + [True]
        assert steps[-1].success is True
        assert all(step.success is None for step in steps[:-1])
        assert agent_cell(steps[-1].observation, size) == size * size - 1


def test_falling_into_a_hole_ends_with_zero() -> None:
    spec = FrozenLake()
    tasks = (spec.task("train", index) for index in range(50))
    task, path = next((t, p) for t in tasks if (p := shortest_path(t.payload["map"], "H")) is not None)
    *_, last = play(spec, task, path)
    assert last.done and last.reward == 0.0 and last.success is False
    row, col = divmod(int(last.state_key.split(":")[1]), spec.size)
    assert task.payload["map"][row][col] == "H"


@pytest.mark.parametrize("bad", ["jump", "left right", "<action>up", "", "lef", "go down", "1"])
def test_invalid_words_are_format_failures(bad: str) -> None:
    spec = FrozenLake()
    task = spec.task("train", 3)
    reset, failed = play(spec, task, [bad])
    assert failed.reward == pytest.approx(-0.1)
    assert failed.failure == "format" and "invalid action" in failed.info["error"]
    assert not failed.done and not failed.truncated
    assert failed.state_key == reset.state_key
    assert failed.observation == f"left down right up\n{reset.observation}"


def test_penalty_is_configurable_and_the_episode_goes_on() -> None:
    spec = FrozenLake(invalid_action_penalty=0.5)
    task = spec.task("eval", 0)
    path = shortest_path(task.payload["map"], "G")
    results = play(spec, task, ["stay", *path])
    assert results[1].reward == -0.5
    assert results[-1].reward == 1.0 and results[-1].success is True


@pytest.mark.parametrize(
    "spelling",
    [
        "down",
        "  DOWN\n",
        "<action>down</action>",
        "<ACTION> Down </ACTION>",
        "<think>G is below me.</think>\n<action>down.</action>",
        "<think>left?</think><action>left</action> no: <action>'down'</action>",  # the last block wins
    ],
)
def test_action_spellings_accepted(spelling: str) -> None:
    assert parse_action_word(spelling, ACTIONS) == "down"


def test_group_members_share_the_map() -> None:
    spec = FrozenLake()
    task = spec.task("train", 11)
    path = shortest_path(task.payload["map"], "G")

    async def group(n: int) -> list[list[StepResult]]:
        async def one() -> list[StepResult]:
            env = spec.make_env()
            results = [await env.reset(task)]
            for action in path:
                results.append(await env.step(action))
            await env.close()
            return results

        return list(await asyncio.gather(*(one() for _ in range(n))))

    episodes = asyncio.run(group(4))
    assert all(episode == episodes[0] for episode in episodes)
    assert episodes[0][-1].reward == 1.0
    assert spec.task("train", 11) == task  # asking again gives the same map


def test_state_keys_name_map_and_cell() -> None:
    spec = FrozenLake()
    task = spec.task("train", 17)
    assert task.task_id == "frozenlake-train-17"
    path = shortest_path(task.payload["map"], "G")
    results = play(spec, task, [path[0], "nonsense", *path[1:]])
    assert results[0].state_key == "frozenlake-train-17:0"
    for result in results:
        assert result.state_key == f"frozenlake-train-17:{agent_cell(result.observation, 4)}"
    assert results[1].state_key == results[2].state_key  # an invalid action leaves the state alone
    assert results[-1].state_key == "frozenlake-train-17:15"


def test_observations_use_only_vocabulary_words() -> None:
    spec = FrozenLake(size=5)
    vocabulary = set(spec.vocabulary())
    for index in range(5):
        task = spec.task("train", index)
        path = shortest_path(task.payload["map"], "G")
        for result in play(spec, task, ["up", "left", "<action>fly</action>", *path]):
            assert set(result.observation.split()) <= vocabulary, result.observation
    reset = play(spec, spec.task("train", 0), [])[0]
    rows = reset.observation.split(" | ")
    assert len(rows) == 5 and all(len(row.split(" ")) == 5 for row in rows)


def test_tasks_are_deterministic() -> None:
    for split in ("train", "eval"):
        for index in (0, 1, 99):
            assert FrozenLake(seed=7).task(split, index) == FrozenLake(seed=7).task(split, index)
    maps = [FrozenLake(seed=seed).task("train", 0).payload["map"] for seed in range(10)]
    assert len({tuple(rows) for rows in maps}) > 1  # the seed matters
    with pytest.raises(ValueError, match="unknown split 'test'"):
        FrozenLake().task("test", 0)


def test_fixed_maps_cycle_and_eval_is_held_out() -> None:
    spec = FrozenLake(num_maps=8)
    train = {tuple(spec.task("train", index).payload["map"]) for index in range(8)}
    assert spec.task("train", 9) == spec.task("train", 1)
    assert spec.task("train", 9).task_id == "frozenlake-train-1"
    for index in range(64):
        assert tuple(spec.task("eval", index).payload["map"]) not in train


def test_fresh_maps_differ_between_train_and_eval() -> None:
    spec = FrozenLake()
    train = [spec.task("train", index) for index in range(32)]
    evaluation = [spec.task("eval", index) for index in range(32)]
    assert not {task.seed for task in train} & {task.seed for task in evaluation}
    assert [task.payload["map"] for task in train] != [task.payload["map"] for task in evaluation]
    assert len({tuple(task.payload["map"]) for task in train}) > 16  # maps vary from task to task


def test_the_adapter_serves_other_gymnasium_envs() -> None:
    """CliffWalking through the same adapter: ANSI rendering and state keys from the discrete observation."""
    env = GymnasiumEnv(
        make_env=lambda task: gym.make("CliffWalking-v1", render_mode="ansi"),
        action_words=["up", "right", "down", "left"],
        state_id=lambda task: "cliff",
    )

    async def episode() -> list[StepResult]:
        results = [await env.reset(Task(task_id="cliff", seed=0))]
        for action in ["up", "right", "wait"]:
            results.append(await env.step(action))
        await env.close()
        return results

    reset, up, right, wait = asyncio.run(episode())
    assert reset.state_key == "cliff:36" and up.state_key == "cliff:24" and right.state_key == "cliff:25"
    assert "x" in reset.observation and up.reward == -1.0
    assert wait.failure == "format" and wait.state_key == "cliff:25"
    assert wait.observation.startswith(
        "invalid action 'wait': answer with one of up, right, down, left, inside <action>...</action> "
        "or alone, e.g. <action>up</action>"
    )

    wrong = GymnasiumEnv(make_env=lambda task: gym.make("CliffWalking-v1"), action_words=["up", "down"])
    with pytest.raises(ValueError, match="give exactly one word per discrete action"):
        asyncio.run(wrong.reset(Task(task_id="cliff", seed=0)))


def test_instruct_prompt_states_the_task_the_format_and_the_moves() -> None:
    spec = FrozenLake(prompt="instruct")
    assert spec.system_prompt == FrozenLake().system_prompt
    assert "<think>" in spec.system_prompt and "<action>down</action>" in spec.system_prompt
    assert all(word in spec.system_prompt for word in ("S is the start", "H a hole", "G the goal", "@"))
    task = spec.task("eval", 0)
    path = shortest_path(task.payload["map"], "G")
    assert path is not None
    replies = ["I will go down.", "<action>jump</action>", "<action>down", *(f"<action>{m}</action>" for m in path)]
    results = play(spec, task, replies)
    first, *moves = results
    assert first.observation.startswith("Current grid: ") and first.observation.endswith(
        "Which move: left, down, right or up? Answer like <action>down</action>."
    )
    for malformed in moves[:3]:  # never a crash: a format failure that says what to write
        assert malformed.failure == "format" and malformed.reward == -0.1
        assert malformed.observation.startswith("invalid action") and "<action>" in malformed.observation
    assert moves[-1].success is True


def test_grid_prompt_keeps_the_observation_inside_the_vocabulary() -> None:
    """model=tiny reads only observations (its template drops the system prompt): the default prompt
    must keep every word of them, error reminders included, in `vocabulary()`."""
    spec = FrozenLake()
    results = play(spec, spec.task("eval", 1), ["stay", "<action>up</action>"])
    words = set(spec.vocabulary())
    assert all(set(result.observation.split()) <= words for result in results)
    with pytest.raises(ValueError, match="unknown prompt 'chat'"):
        FrozenLake(prompt="chat")
