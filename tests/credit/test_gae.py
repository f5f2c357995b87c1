"""Turn-level GAE (ALGORITHMS.md §1.5, Turn-PPO) by hand, and its identity with the reward-to-go."""

from __future__ import annotations

import random

import pytest

from agentrl.credit import compute_advantages
from agentrl.credit.gigpo import discounted_returns
from agentrl.types import Trajectory
from tests.fixtures.trajectories import episode


def valued(rewards: list[float], values: list[float], **options: object) -> Trajectory:
    trajectory = episode(sum(rewards), rewards, **options)  # type: ignore[arg-type]
    for turn, value in zip(trajectory.turns, values, strict=True):
        turn.value = value
    return trajectory


def test_hand_computed_gamma_and_lambda() -> None:
    # rewards r = (0, 0, 1), values V = (0.5, 0.25, 0.75), V after the last turn = 0.
    trajectory = valued([0.0, 0.0, 1.0], [0.5, 0.25, 0.75])
    # γ = 0.9, λ = 0.5: δ = (0 + 0.9·0.25 − 0.5, 0 + 0.9·0.75 − 0.25, 1 + 0 − 0.75) = (−0.275, 0.425, 0.25)
    # A_2 = 0.25; A_1 = 0.425 + 0.45·0.25 = 0.5375; A_0 = −0.275 + 0.45·0.5375 = −0.033125
    [advantages] = compute_advantages([trajectory], "turn_ppo", gamma=0.9, lam=0.5)
    assert advantages == pytest.approx([-0.033125, 0.5375, 0.25])
    # λ = 0: one-step TD errors.
    [advantages] = compute_advantages([trajectory], "turn_ppo", gamma=0.9, lam=0.0)
    assert advantages == pytest.approx([-0.275, 0.425, 0.25])
    # γ = λ = 1: the return minus the value, G_t − V(h_t) = (1 − 0.5, 1 − 0.25, 1 − 0.75).
    [advantages] = compute_advantages([trajectory], "turn_ppo")
    assert advantages == pytest.approx([0.5, 0.75, 0.25])


def test_lambda_one_is_discounted_return_minus_value() -> None:
    rewards, values = [0.2, -0.1, 0.0, 1.0], [0.3, -0.4, 0.9, 0.1]
    [advantages] = compute_advantages([valued(rewards, values)], "turn_ppo", gamma=0.8, lam=1.0)
    expected = [g - v for g, v in zip(discounted_returns(rewards, 0.8), values)]
    assert advantages == pytest.approx(expected)


@pytest.mark.parametrize("termination", ["done", "max_turns", "truncated", "context_limit"])
def test_no_bootstrap_after_the_last_turn_for_any_termination(termination: str) -> None:
    trajectory = valued([0.0, 0.0], [0.0, 2.0])
    trajectory.termination = termination  # type: ignore[assignment]
    [advantages] = compute_advantages([trajectory], "turn_ppo", gamma=1.0, lam=0.0)
    assert advantages == pytest.approx([2.0, -2.0])  # δ_1 = 0 + 1·0 − 2 (V after the last turn = 0)


def test_zero_values_give_the_reward_to_go() -> None:
    """§5-style identity: with V ≡ 0 and γ = λ = 1 the advantage is the undiscounted reward-to-go."""
    rng = random.Random(7)
    trajectories = [
        valued([rng.choice([0.0, -0.1, 1.0]) for _ in range(n)], [0.0] * n, group_id=f"g{i}")
        for i, n in enumerate([1, 2, 3, 5, 4])
    ]
    for trajectory, advantages in zip(trajectories, compute_advantages(trajectories, "turn_ppo")):
        assert advantages == pytest.approx(discounted_returns([t.reward for t in trajectory.turns], 1.0))


def test_untrainable_get_none_and_missing_values_are_an_error() -> None:
    failed = valued([0.0], [0.0], group_id="x", failure="infra")
    failed.turns[0].value = None
    assert compute_advantages([failed], "turn_ppo") == [None]
    with pytest.raises(ValueError, match="without a value.*assign_values"):
        compute_advantages([episode(1.0, [1.0])], "turn_ppo")


def test_parameters_are_validated_at_start_up() -> None:
    assert compute_advantages([], "turn_ppo", gamma=0.99, lam=0.95) == []
    with pytest.raises(ValueError, match="invalid lam=1.5"):
        compute_advantages([], "turn_ppo", lam=1.5)
    with pytest.raises(TypeError, match="did you mean 'lam'"):
        compute_advantages([], "turn_ppo", lamb=0.9)
