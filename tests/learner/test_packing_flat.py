"""`learner.packing: flat` lays whole sequences end to end in a row; it must change only the layout.

The invariants: one update with `flat` gives the loss, statistics and gradients of `padded` (every ratio
level, a critic, windowed trajectories); a flat micro-batch computes no padding when its sequences tile
its rows; and a sequence never attends to another in the same row.
"""

from __future__ import annotations

import copy

import pytest
import torch

from agentrl.credit import assign_advantages
from agentrl.learner.learner import Learner
from agentrl.learner.packing import collate, pack_micro_batches, training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import StepResult, Trajectory, Turn
from tests.learner.test_critic import critic_learner
from tests.learner.test_learner_update import WORDS, make_trajectories
from tests.learner.test_window_packing import rebuilt

SHAPE = TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64)
BUDGET = 64
"""Small enough for several micro-batches, wide enough that flat rows hold several sequences."""


def sgd_update(
    trajectories: list[Trajectory], packing: str, **settings: object
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The gradient one update applied and its statistics. SGD: the gradient is compared, and Adam's first
    step (≈ lr·sign(g)) would turn float noise into full-size differences."""
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, SHAPE, seed=1)
    learner_settings = LearnerSettings(  # type: ignore[arg-type]
        micro_batch_tokens=BUDGET, packing=packing, entropy_coef=0.01, **settings
    )
    learner = Learner(model, tokenizer.pad_token_id, learner_settings)
    learner.optimizer = torch.optim.SGD(model.parameters(), lr=learner_settings.lr)
    stats = learner.update(copy.deepcopy(trajectories))
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}, stats


def assert_same_update(
    flat: tuple[dict[str, torch.Tensor], dict[str, float]], padded: tuple[dict[str, torch.Tensor], dict[str, float]]
) -> None:
    (flat_gradient, flat_stats), (padded_gradient, padded_stats) = flat, padded
    assert any(g.abs().sum() > 0 for g in padded_gradient.values())
    for name, gradient in padded_gradient.items():
        torch.testing.assert_close(flat_gradient[name], gradient, atol=1e-5, rtol=1e-4, msg=name)
    assert flat_stats.keys() == padded_stats.keys()
    for key, value in padded_stats.items():
        if key != "micro_batches":  # flat needs fewer passes
            assert flat_stats[key] == pytest.approx(value, abs=1e-5), key


def test_the_test_batch_really_packs_several_sequences_per_row() -> None:
    sequences = training_sequences(make_trajectories(build_tiny_tokenizer(WORDS)))
    flat = [collate(rows, 0) for rows in pack_micro_batches(sequences, BUDGET, "flat")]
    padded = [collate(rows, 0) for rows in pack_micro_batches(sequences, BUDGET, "padded")]
    assert any(batch.attention_mask is None for batch in flat)  # some row holds more than one sequence
    assert sum(b.padding for b in flat) < sum(b.padding for b in padded)
    assert sum(b.input_ids.numel() for b in flat) < sum(b.input_ids.numel() for b in padded)


@pytest.mark.parametrize("ratio_level", ["token", "turn", "sequence"])
def test_flat_packing_gives_the_padded_update(ratio_level: str) -> None:
    trajectories = make_trajectories(build_tiny_tokenizer(WORDS))
    settings = {"ratio_level": ratio_level, "clip_bias_correction": True, "epochs": 2, "lr": 2.0}
    assert_same_update(sgd_update(trajectories, "flat", **settings), sgd_update(trajectories, "padded", **settings))


@pytest.mark.parametrize("ratio_level", ["token", "sequence"])
def test_flat_packing_gives_the_padded_update_for_windowed_trajectories(ratio_level: str) -> None:
    trajectories = [rebuilt(t) for t in make_trajectories(build_tiny_tokenizer(WORDS))]
    assert len(training_sequences(trajectories)) > len(trajectories)  # several sequences per trajectory
    settings = {"ratio_level": ratio_level, "aggregation": "seq_mean_token_mean"}
    assert_same_update(sgd_update(trajectories, "flat", **settings), sgd_update(trajectories, "padded", **settings))


def test_flat_packing_gives_the_padded_values_and_update_with_a_critic() -> None:
    def turn_ppo_update(packing: str) -> tuple[list[float], dict[str, torch.Tensor], dict[str, float]]:
        learner, trajectories = critic_learner(packing=packing, micro_batch_tokens=BUDGET, value_clip=None)
        with torch.no_grad():  # a non-zero head, so values and their gradients mean something
            learner.critic.linear.weight.normal_(std=0.1, generator=torch.Generator().manual_seed(0))  # type: ignore[union-attr]
        learner.optimizer = torch.optim.SGD(learner._trained_parameters(), lr=1e-3)
        learner.assign_values(trajectories)
        assign_advantages(trajectories, "turn_ppo")
        stats = learner.update(trajectories)
        values = [value for t in trajectories for turn in t.turns for value in turn.token_values]  # type: ignore[union-attr]
        parameters = {**dict(learner.model.named_parameters()), **dict(learner.critic.named_parameters())}  # type: ignore[union-attr]
        return values, {name: p.grad.detach().clone() for name, p in parameters.items()}, stats

    flat_values, *flat = turn_ppo_update("flat")
    padded_values, *padded = turn_ppo_update("padded")
    torch.testing.assert_close(torch.tensor(flat_values), torch.tensor(padded_values), atol=1e-5, rtol=0)
    assert_same_update(tuple(flat), tuple(padded))  # type: ignore[arg-type]
    assert padded[1]["value_loss"] > 0


def one_turn(observation: list[int], action: list[int]) -> Trajectory:
    turn = Turn(observation, action, [-1.0] * len(action), 0, result=StepResult("x"))
    return Trajectory("t", "g", "e", 0, turns=[turn], advantages=[1.0])


def test_sequences_that_tile_the_rows_compute_no_padding() -> None:
    # widths 10 | 5 + 5 | 4 + 6: the longest sets the row width, the others fill rows exactly
    trajectories = [one_turn([5] * 8, [6, 7]), one_turn([5] * 4, [6]), one_turn([7] * 3, [8] * 2),
                    one_turn([8] * 3, [9]), one_turn([9] * 5, [5])]
    [rows] = pack_micro_batches(training_sequences(trajectories), 30, "flat")
    assert sorted(sorted(len(s.input_ids) for s in row) for row in rows) == [[4, 6], [5, 5], [10]]
    batch = collate(rows, 0)
    assert batch.padding == 0 and batch.input_ids.shape == (3, 10) and batch.attention_mask is None
    assert batch.position_ids.tolist() == [[p for s in row for p in range(len(s.input_ids))] for row in rows]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_sequence_never_attends_to_another_in_its_row(attention: str) -> None:
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, SHAPE, seed=1)
    model.set_attn_implementation(attention)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=30, packing="flat"))
    longest, first, second = one_turn([5] * 8, [6, 7]), one_turn([8, 9, 10, 11], [12]), one_turn([13, 14, 6], [7, 8])
    changed = copy.deepcopy(first)
    changed.turns[0].observation_ids = [14, 13, 12, 11]
    changed.turns[0].action_ids = [10]
    [rows] = pack_micro_batches(training_sequences([longest, first, second]), 30, "flat")
    assert [[s.trajectory_index for s in row] for row in rows] == [[0], [1, 2]]  # first and second share a row
    together = learner.action_logprobs([longest, first, second])
    with_changed = learner.action_logprobs([longest, changed, second])
    alone = learner.action_logprobs([second])
    assert together[1] != with_changed[1]  # the change reaches the changed sequence
    torch.testing.assert_close(torch.tensor(with_changed[2]), torch.tensor(together[2]), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.tensor(alone[0]), torch.tensor(together[2]), atol=1e-6, rtol=0)


def test_an_unknown_packing_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="learner.packing must be one of padded, flat, got 'packed'"):
        LearnerSettings(packing="packed")
