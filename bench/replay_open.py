"""How fast `agentrl replay` opens a big run and switches episodes (prints numbers; asserts nothing).

Writes a synthetic run of `--turns` turns (frozenlake-like episodes of 1-12 turns with tool calls,
GiGPO-style advantages, groups of 8), then drives the app headless with Textual's pilot:

    time to first screen   RunIndex + app start + the episode list and the first episode drawn
    time to switch         one cursor move (the next episode parsed, its group's credit computed, drawn)

for the default scope (the last step) and for the whole run (`a`: every step file indexed).
Usage: python bench/replay_open.py [--turns 100000] [--dir /tmp/replay-bench]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from pathlib import Path

from agentrl.replay.app import ReplayApp
from agentrl.replay.index import RunIndex
from agentrl.store.run_dir import RunDir
from agentrl.types import StepResult, ToolCall, Trajectory, Turn

EPISODES_PER_STEP = 64
GROUP_SIZE = 8


def synthetic_episode(rng: random.Random, step: int, group: int, turns: int) -> Trajectory:
    task_id = f"bench-{step}-{group}"
    episode_turns = []
    for t in range(turns):
        observation = " ".join(rng.choice("SFHG@") for _ in range(16))
        call = ToolCall(
            "move", {"direction": "left"}, ok=rng.random() > 0.1, result=observation, latency_s=0.01
        )
        episode_turns.append(
            Turn(
                observation_ids=[rng.randrange(20) for _ in range(21)],
                action_ids=[13],
                behaviour_logprobs=[-rng.random()],
                policy_version=step - 1,
                observation_text=observation,
                action_text="left",
                parsed_action="left",
                state_key=f"{task_id}:{rng.randrange(6)}",
                result=StepResult(
                    observation,
                    reward=-0.1 if t % 3 else 0.0,
                    state_key=f"{task_id}:{rng.randrange(6)}",
                    tool_calls=(call,),
                ),
            )
        )
    success = rng.random() < 0.4
    return Trajectory(
        task_id=task_id,
        group_id=f"s{step}-g{group}-{task_id}",
        env_name="frozenlake",
        seed=group,
        turns=episode_turns,
        outcome_reward=1.0 if success else 0.0,
        termination="done",
        metrics={"success": float(success), "turns": float(turns)},
        advantages=[rng.gauss(0, 0.5) for _ in range(turns)],
    )


def write_run(root: Path, total_turns: int) -> Path:
    rng = random.Random(0)
    run_dir = RunDir("bench", root)
    run_dir.write_config("algo:\n  name: gigpo\n  params:\n    mode: mean\n    gamma: 0.95\n    omega: 1.0\n")
    step, written = 0, 0
    while written < total_turns:
        step += 1
        episodes = [
            synthetic_episode(rng, step, i // GROUP_SIZE, rng.randint(1, 12))
            for i in range(EPISODES_PER_STEP)
        ]
        run_dir.write_step_trajectories(step, episodes)
        written += sum(len(e.turns) for e in episodes)
    print(f"wrote {written} turns in {step} steps ({step * EPISODES_PER_STEP} episodes) to {run_dir.path}")
    return run_dir.path


async def measure(run_path: Path, whole_run: bool, switches: int = 50) -> tuple[float, list[float]]:
    started = time.perf_counter()
    index = RunIndex(run_path)
    app = ReplayApp(index, None if whole_run else index.steps[-1])
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        first_screen = time.perf_counter() - started
        switch_times = []
        for _ in range(switches):
            before = time.perf_counter()
            await pilot.press("down")
            await pilot.pause()
            switch_times.append(time.perf_counter() - before)
    return first_screen, switch_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/replay-bench"))
    args = parser.parse_args()
    run_path = args.dir / "bench"
    if not (run_path / "trajectories").is_dir():
        run_path = write_run(args.dir, args.turns)
    size = sum(f.stat().st_size for f in (run_path / "trajectories").iterdir()) / 1e6
    print(f"run {run_path}: {size:.0f} MB of trajectories")
    for whole_run in (False, True):
        first, switches = asyncio.run(measure(run_path, whole_run))
        scope = "whole run " if whole_run else "last step "
        print(
            f"{scope} first screen {first:.2f} s | switch episode median {statistics.median(switches) * 1e3:.0f} ms, "
            f"max {max(switches) * 1e3:.0f} ms ({len(switches)} switches)"
        )


if __name__ == "__main__":
    main()
