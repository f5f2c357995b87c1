"""Learner invariants: accumulation and padding never change the update."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from agentrl.learner.learner import Learner
from agentrl.learner.mini_batches import split_into_mini_batches
from agentrl.learner.packing import PACKINGS, pack_micro_batches, training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.losses.aggregation import AGGREGATIONS
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import StepResult, Trajectory, Turn

WORDS = ["S", "F", "H", "G", "@", "|", "left", "down", "right", "up"]


def make_trajectories(tokenizer, count: int = 8) -> list[Trajectory]:
    """Trajectories of different lengths (so packing pads), with made-up but valid ids."""
    generator = torch.Generator().manual_seed(3)
    trajectories = []
    for index in range(count):
        turns = []
        for _ in range(1 + index % 3):
            observation = torch.randint(5, len(tokenizer), (3 + index,), generator=generator).tolist()
            action = torch.randint(5, len(tokenizer), (1 + index % 2,), generator=generator).tolist()
            turns.append(Turn(observation, action, [-1.0] * len(action), 0, result=StepResult("x")))
        trajectories.append(
            Trajectory(
                task_id="t", group_id="g", env_name="test", seed=0, turns=turns,
                advantages=[float(index - 3.5) / 4 + t for t in range(len(turns))],
            )
        )
    return trajectories


def accumulated_gradients(
    micro_batch_tokens: int, ratio_level: str = "token", sgd: bool = False, per_token: bool = False,
    **overrides: object,
) -> dict[str, torch.Tensor]:
    """The gradient the update applied (left in `.grad` after the step). Compared instead of the new
    weights because Adam's first step is ≈ lr·sign(g), which turns float noise on a near-zero
    gradient into a full-size difference. The made-up behaviour log-probs (−1) are far from the
    model's, so the truncated off-policy weight is active and differs between ratio levels."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    settings = LearnerSettings(
        micro_batch_tokens=micro_batch_tokens, entropy_coef=0.01, ratio_level=ratio_level, **overrides  # type: ignore[arg-type]
    )
    learner = Learner(model, tokenizer.pad_token_id, settings)
    if sgd:  # linear in the gradient, so float noise in epoch 1 stays noise in epoch 2 (unlike Adam's sign)
        learner.optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    trajectories = make_trajectories(tokenizer)
    if per_token:  # a different advantage for every action token (token GAE / token TEMPO)
        for trajectory in trajectories:
            trajectory.token_advantages = [
                [a * (j + 1) - 0.3 * j for j in range(len(turn.action_ids))]
                for a, turn in zip(trajectory.advantages, trajectory.turns)  # type: ignore[arg-type]
            ]
    mini_batches = split_into_mini_batches(training_sequences(trajectories), settings.mini_batches)
    micro_batches = [pack_micro_batches(part, micro_batch_tokens, settings.packing) for part in mini_batches]
    stats = learner.update(trajectories)
    assert stats["micro_batches"] == sum(len(layouts) for layouts in micro_batches)
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("ratio_level", ["token", "turn", "sequence"])
def test_eight_micro_batches_equal_one(ratio_level: str) -> None:
    one_row_each = accumulated_gradients(micro_batch_tokens=1, ratio_level=ratio_level)  # 8 accumulation steps
    all_in_one = accumulated_gradients(micro_batch_tokens=10_000, ratio_level=ratio_level)  # one padded batch
    assert any(g.abs().sum() > 0 for g in all_in_one.values())
    for name in one_row_each:
        torch.testing.assert_close(one_row_each[name], all_in_one[name], atol=1e-7, rtol=1e-4)


@pytest.mark.parametrize("ratio_level", ["token", "turn"])
def test_eight_micro_batches_equal_one_with_token_advantages(ratio_level: str) -> None:
    one_row_each = accumulated_gradients(1, ratio_level, per_token=True)
    all_in_one = accumulated_gradients(10_000, ratio_level, per_token=True)
    per_turn = accumulated_gradients(10_000, ratio_level)
    assert any(not torch.allclose(all_in_one[name], per_turn[name]) for name in all_in_one)  # they are used
    for name in one_row_each:
        torch.testing.assert_close(one_row_each[name], all_in_one[name], atol=1e-7, rtol=1e-4)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("ratio_level", ["token", "turn"])
def test_eight_micro_batches_equal_one_for_every_aggregation(aggregation: str, ratio_level: str) -> None:
    one_row_each = accumulated_gradients(1, ratio_level, aggregation=aggregation, constant_length=5)
    all_in_one = accumulated_gradients(10_000, ratio_level, aggregation=aggregation, constant_length=5)
    for name in one_row_each:
        torch.testing.assert_close(one_row_each[name], all_in_one[name], atol=1e-7, rtol=1e-4)


def test_the_aggregation_changes_the_update() -> None:
    token = accumulated_gradients(10_000, aggregation="token_mean")
    sequence = accumulated_gradients(10_000, aggregation="seq_mean_token_mean")
    assert any(not torch.allclose(token[name], sequence[name]) for name in token)


@pytest.mark.parametrize("ratio_level", ["token", "turn", "sequence"])
def test_eight_micro_batches_equal_one_with_clip_bias_correction(ratio_level: str) -> None:
    """The second epoch's gradient, after the first moved π_θ away from π_old enough to clip."""
    settings = {"epochs": 2, "lr": 2.0, "clip_bias_correction": True, "sgd": True}
    one_row_each = accumulated_gradients(1, ratio_level, **settings)
    all_in_one = accumulated_gradients(10_000, ratio_level, **settings)
    uncorrected = accumulated_gradients(10_000, ratio_level, **(settings | {"clip_bias_correction": False}))
    assert any(not torch.allclose(all_in_one[name], uncorrected[name]) for name in all_in_one)  # clips fired
    for name in one_row_each:
        torch.testing.assert_close(one_row_each[name], all_in_one[name], atol=1e-6, rtol=1e-4)


def test_the_ratio_level_changes_the_update() -> None:
    token, sequence = accumulated_gradients(10_000, "token"), accumulated_gradients(10_000, "sequence")
    assert any(not torch.allclose(token[name], sequence[name]) for name in token)


def on_policy_learner(settings: LearnerSettings) -> tuple[Learner, list[Trajectory]]:
    """A tiny model and trajectories whose behaviour log-probs are the model's own (μ = π_old exactly)."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    learner = Learner(model, tokenizer.pad_token_id, settings)
    trajectories = make_trajectories(tokenizer)
    for trajectory, logprobs in zip(trajectories, learner.action_logprobs(trajectories), strict=True):
        for turn, turn_logprobs in zip(trajectory.turns, logprobs, strict=True):
            turn.behaviour_logprobs = turn_logprobs
    return learner, trajectories


@pytest.mark.parametrize("ratio_level", ["token", "turn", "sequence"])
def test_off_policy_weight_is_one_on_policy_and_leaves_the_loss_unchanged(ratio_level: str) -> None:
    weighted, trajectories = on_policy_learner(LearnerSettings(ratio_level=ratio_level, tis_cap=2.0))
    unweighted, _ = on_policy_learner(LearnerSettings(ratio_level=ratio_level, tis_cap=None))
    stats, reference = weighted.update(trajectories), unweighted.update(trajectories)
    assert stats["tis_weight_mean"] == 1.0 and stats["behaviour_logprob_gap"] == 0.0
    assert stats["loss"] == reference["loss"]


@pytest.mark.parametrize("ratio_level", ["turn", "sequence"])
def test_multi_epoch_update_runs_at_the_turn_and_sequence_level(ratio_level: str) -> None:
    settings = LearnerSettings(ratio_level=ratio_level, epochs=3, lr=0.05, dual_clip=3.0)
    learner, trajectories = on_policy_learner(settings)
    before = [p.detach().clone() for p in learner.model.parameters()]
    stats = learner.update(trajectories)
    assert all(math.isfinite(value) for value in stats.values())
    assert 0.0 <= stats["clip_fraction_turn"] <= 1.0 and stats["clip_fraction"] > 0  # later epochs move π_θ
    assert stats["tis_weight_mean"] == pytest.approx(1.0)
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.model.parameters()))


@pytest.mark.parametrize("packing", PACKINGS)
def test_padding_and_packing_do_not_change_logprobs(packing: str) -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64), seed=1)
    trajectories = make_trajectories(tokenizer)
    alone = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=1)).action_logprobs(trajectories)
    settings = LearnerSettings(micro_batch_tokens=10_000, packing=packing)
    padded = Learner(copy.deepcopy(model), tokenizer.pad_token_id, settings)
    together = padded.action_logprobs(trajectories)
    for a, b in zip(alone, together):
        for turn_a, turn_b in zip(a, b):
            torch.testing.assert_close(torch.tensor(turn_a), torch.tensor(turn_b), atol=1e-5, rtol=0)


def test_packing_respects_the_token_budget_and_keeps_every_sequence() -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    sequences = training_sequences(make_trajectories(tokenizer))
    batches = pack_micro_batches(sequences, token_budget=40, packing="padded")
    assert sorted(s.trajectory_index for rows in batches for [s] in rows) == list(range(8))  # one per row
    for rows in batches:
        longest = max(len(s.input_ids) for [s] in rows)
        assert len(rows) == 1 or len(rows) * longest <= 40


def test_trajectories_without_advantages_are_not_trained() -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    trajectories = make_trajectories(tokenizer)
    trajectories[0].advantages = None
    trajectories[1].failure = "infra"
    indices = {s.trajectory_index for s in training_sequences(trajectories)}
    assert indices == set(range(2, 8))


def test_token_advantages_are_trained_when_present_and_turn_advantages_broadcast_otherwise() -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    trajectories = make_trajectories(tokenizer)
    broadcast = training_sequences(trajectories)
    for trajectory in trajectories:  # the same numbers, given per token
        trajectory.token_advantages = [[a] * len(turn.action_ids) for a, turn in zip(trajectory.advantages, trajectory.turns)]  # type: ignore[arg-type]
    assert [s.advantages for s in training_sequences(trajectories)] == [s.advantages for s in broadcast]

    trajectory = trajectories[7]  # two turns: observations of 10 tokens, two action tokens each
    trajectory.token_advantages = [[1.0, -2.0], [3.0, 0.5]]
    [sequence] = training_sequences([trajectory])
    trained = [a for a, is_action in zip(sequence.advantages, sequence.action_mask) if is_action]
    assert trained == [1.0, -2.0, 3.0, 0.5]
    assert all(a == 0.0 for a, is_action in zip(sequence.advantages, sequence.action_mask) if not is_action)
    trajectory.token_advantages = [[1.0], [3.0, 0.5]]
    with pytest.raises(ValueError, match="turn 0 has 1 token advantages for 2 action tokens"):
        training_sequences([trajectory])


def test_token_advantages_change_the_update_per_token() -> None:
    """The learner trains on the per-token numbers: changing one token's advantage changes the gradient,
    and per-turn advantages given as equal token advantages give exactly the per-turn update."""
    tokenizer = build_tiny_tokenizer(WORDS)
    shape = TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64)

    def gradient(token_advantages: list[list[list[float]]] | None) -> torch.Tensor:
        model = build_tiny_model(tokenizer, shape, seed=1)
        learner = Learner(model, tokenizer.pad_token_id, LearnerSettings())
        trajectories = make_trajectories(tokenizer)
        if token_advantages is not None:
            for trajectory, advantages in zip(trajectories, token_advantages, strict=True):
                trajectory.token_advantages = advantages
        learner.update(trajectories)
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    per_turn = [[[a] * len(turn.action_ids) for a, turn in zip(t.advantages, t.turns)] for t in make_trajectories(tokenizer)]  # type: ignore[arg-type]
    assert torch.equal(gradient(None), gradient(per_turn))
    changed = copy.deepcopy(per_turn)
    changed[7][0][1] += 1.0  # only the second action token of trajectory 7's first turn
    assert not torch.allclose(gradient(per_turn), gradient(changed))
