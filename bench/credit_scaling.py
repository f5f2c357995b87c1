"""Credit assignment must be linear in the number of turns.

Times GiGPO and TEMPO (turn level) on synthetic groups of 10k, 100k and 1M turns and prints the time
ratio between consecutive sizes (≈10× per 10× turns when linear) and the time per million turns.
The synthetic data looks like frozenlake: groups of 8 episodes of 1–12 turns whose state keys repeat
within a group (so anchor groups and prefix trees are non-trivial).

    python bench/credit_scaling.py                 # 10k, 100k, 1M turns
    python bench/credit_scaling.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import random
import time

from agentrl.credit import compute_advantages
from agentrl.types import StepResult, Trajectory, Turn


def synthetic_trajectories(total_turns: int, seed: int = 0, group_size: int = 8) -> list[Trajectory]:
    rng = random.Random(seed)
    trajectories: list[Trajectory] = []
    turns_made, group = 0, 0
    while turns_made < total_turns:
        for member in range(group_size):
            length = rng.randint(1, 12)
            turns = []
            for _ in range(length):
                cell = rng.randrange(16)
                turns.append(
                    Turn(
                        observation_ids=[cell],
                        action_ids=[rng.randrange(4)],
                        behaviour_logprobs=[-1.0],
                        policy_version=0,
                        state_key=f"{group}:{cell}",
                        result=StepResult("", reward=rng.choice([0.0, 0.0, -0.1, 1.0])),
                    )
                )
            trajectories.append(
                Trajectory(
                    task_id=f"t{group}", group_id=f"g{group}", env_name="synthetic", seed=group,
                    turns=turns, outcome_reward=sum(t.reward for t in turns),
                )
            )
            turns_made += length
        group += 1
    return trajectories


def time_credit(trajectories: list[Trajectory], algo: str, params: dict[str, object], repetitions: int) -> float:
    """The fastest of `repetitions` runs: the least disturbed by other work on the machine."""
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        compute_advantages(trajectories, algo, **params)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="credit assignment scaling")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    algos = {"gigpo": {"mode": "mean"}, "tempo": {"norm": "mean"}}
    print(f"{'algo':<7} {'turns':>10} {'seconds':>9} {'ratio to previous':>18} {'s per 1M turns':>15}")
    for algo, params in algos.items():
        previous = None
        for size in args.sizes:
            trajectories = synthetic_trajectories(size)
            turns = sum(len(t.turns) for t in trajectories)
            seconds = time_credit(trajectories, algo, params, args.repetitions)
            ratio = f"{seconds / previous:.1f}x" if previous else "-"
            print(f"{algo:<7} {turns:>10,} {seconds:>9.3f} {ratio:>18} {seconds / turns * 1e6:>15.2f}")
            previous = seconds


if __name__ == "__main__":
    main()
