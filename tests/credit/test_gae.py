"""Turn-level (Turn-PPO) and token-level (PPO) GAE, ALGORITHMS.md §1.5, by hand and by identity."""

from __future__ import annotations

import random

import pytest

from agentrl.credit import assign_advantages, compute_advantages
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


def token_valued(rewards: list[float], token_values: list[list[float]], **options: object) -> Trajectory:
    """An episode whose turn t has one action token per entry of `token_values[t]`, with those values."""
    actions = [[2] * len(values) for values in token_values]
    trajectory = episode(sum(rewards), rewards, actions=actions, **options)  # type: ignore[arg-type]
    for turn, values in zip(trajectory.turns, token_values, strict=True):
        turn.token_values = values
    return trajectory


def test_token_level_hand_computed() -> None:
    # Turn 0 has two action tokens (V = 0.5, 0.25) and reward 0; turn 1 one token (V = 0.75), reward 1.
    # The observation tokens between them are skipped, so the token steps are r = (0, 0, 1),
    # V = (0.5, 0.25, 0.75): the numbers of the turn-level hand example, one γ per token.
    trajectory = token_valued([0.0, 1.0], [[0.5, 0.25], [0.75]])
    # γ = 0.9, λ = 0.5: δ = (−0.275, 0.425, 0.25); A = (−0.033125, 0.5375, 0.25), split by turn.
    [advantages] = compute_advantages([trajectory], "ppo", gamma=0.9, lam=0.5)
    assert advantages[0] == pytest.approx([-0.033125, 0.5375]) and advantages[1] == pytest.approx([0.25])
    # γ = λ = 1: every token gets the reward-to-go after it minus its value: (1 − 0.5, 1 − 0.25), (1 − 0.75).
    [advantages] = compute_advantages([trajectory], "ppo")
    assert advantages == [[0.5, 0.75], [0.25]]
    # A middle turn's reward arrives after its last token: r = (0, 0.5 | 0, 0 | 1) over 2 + 2 + 1 tokens.
    trajectory = token_valued([0.5, 0.0, 1.0], [[0.0, 0.0], [0.0, 0.0], [0.0]])
    [advantages] = compute_advantages([trajectory], "ppo", gamma=0.5, lam=1.0)
    # G_k backwards from the last token: 1, 0.5, 0.25, 0.5 + 0.125 = 0.625, 0.3125
    assert advantages == [[0.3125, 0.625], [0.25, 0.5], [1.0]]


def test_token_level_on_single_token_turns_is_turn_level() -> None:
    rng = random.Random(3)
    for n in (1, 2, 4):
        rewards = [rng.choice([0.0, -0.1, 1.0]) for _ in range(n)]
        values = [rng.uniform(-1, 1) for _ in range(n)]
        turn = valued(rewards, values)
        token = token_valued(rewards, [[v] for v in values])
        [turn_advantages] = compute_advantages([turn], "turn_ppo", gamma=0.9, lam=0.7)
        [token_advantages] = compute_advantages([token], "ppo", gamma=0.9, lam=0.7)
        assert token_advantages == [[a] for a in turn_advantages]  # type: ignore[union-attr]


def test_token_level_reward_of_a_turn_without_action_tokens_goes_to_the_last_token_before_it() -> None:
    # turn 1 has no action token; its reward 0.5 follows turn 0's last token (ours, gae.py docstring).
    trajectory = token_valued([0.0, 0.5, 1.0], [[0.0], [], [0.0]])
    [advantages] = compute_advantages([trajectory], "ppo")
    assert advantages == [[1.5], [], [1.0]]


def test_token_level_untrainable_get_none_and_missing_values_are_an_error() -> None:
    failed = token_valued([0.0], [[0.0]], group_id="x", failure="timeout")
    failed.turns[0].token_values = None
    assert compute_advantages([failed], "ppo") == [None]
    with pytest.raises(ValueError, match="one value per action token.*assign_values"):
        compute_advantages([episode(1.0, [1.0])], "ppo")


def test_assign_advantages_stores_token_advantages_and_their_turn_means() -> None:
    trajectory = token_valued([0.0, 1.0], [[0.5, 0.25], [0.75]])
    assign_advantages([trajectory], "ppo")
    assert trajectory.token_advantages == [[0.5, 0.75], [0.25]]
    assert trajectory.advantages == [0.625, 0.25]  # per-turn means, a summary for people
    assign_advantages([trajectory], "grpo")  # a per-turn estimator clears them again
    assert trajectory.token_advantages is None and trajectory.advantages == [0.0, 0.0]
