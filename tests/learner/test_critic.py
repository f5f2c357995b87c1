"""The critic of PPO with a critic: values at turn boundaries and at every action token, the value loss,
checkpoints."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import torch

from agentrl.credit import assign_advantages
from agentrl.learner.checkpoint import load_checkpoint, save_checkpoint
from agentrl.learner.critic import clipped_value_loss, explained_variance
from agentrl.learner.learner import Learner
from agentrl.learner.packing import training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import StepResult, Trajectory, Turn
from tests.learner.test_learner_update import WORDS, make_trajectories

SHAPE = TinyModelShape(hidden_size=32, num_heads=2, intermediate_size=64)


def critic_learner(**settings: object) -> tuple[Learner, list[Trajectory]]:
    tokenizer = build_tiny_tokenizer(WORDS)
    model = build_tiny_model(tokenizer, SHAPE, seed=1)
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(**settings), critic=True)  # type: ignore[arg-type]
    trajectories = make_trajectories(tokenizer)
    for index, trajectory in enumerate(trajectories):  # rewards that differ per trajectory and turn
        trajectory.turns = [
            Turn(t.observation_ids, t.action_ids, t.behaviour_logprobs, 0, result=StepResult("x", reward=r))
            for t, r in zip(trajectory.turns, [0.0, (index % 3) / 2, 1.0 - (index % 2)])
        ]
        trajectory.advantages = None
    return learner, trajectories


def test_values_are_read_at_the_last_context_token_before_each_action() -> None:
    learner, trajectories = critic_learner()
    with torch.no_grad():
        learner.critic.linear.weight.normal_()  # type: ignore[union-attr]
    learner.assign_values(trajectories)
    trajectory = trajectories[2]  # three turns
    ids = [token for turn in trajectory.turns for token in turn.observation_ids + turn.action_ids]
    with torch.no_grad():
        hidden = learner.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
        position = -1
        for turn in trajectory.turns:
            position += len(turn.observation_ids)
            assert turn.value == pytest.approx(float(learner.critic(hidden[position])), abs=1e-5)  # type: ignore[misc]
            position += len(turn.action_ids)


def test_token_values_are_read_before_every_action_token() -> None:
    learner, trajectories = critic_learner()
    with torch.no_grad():
        learner.critic.linear.weight.normal_()  # type: ignore[union-attr]
    learner.assign_values(trajectories)
    trajectory = trajectories[7]  # two turns of two action tokens
    ids = [token for turn in trajectory.turns for token in turn.observation_ids + turn.action_ids]
    with torch.no_grad():
        hidden = learner.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
    position = 0
    for turn in trajectory.turns:
        position += len(turn.observation_ids)
        with torch.no_grad():
            expected = [float(learner.critic(hidden[position + j - 1])) for j in range(len(turn.action_ids))]  # type: ignore[misc]
        assert turn.token_values == pytest.approx(expected, abs=1e-5) and len(expected) == 2
        assert turn.value == turn.token_values[0]  # the turn's state h_t is the state before its first token
        position += len(turn.action_ids)


@pytest.mark.parametrize(("algo", "states"), [("turn_ppo", "turns"), ("ppo", "action tokens")])
def test_value_loss_decreases_on_a_fixed_batch(algo: str, states: str) -> None:
    learner, trajectories = critic_learner(lr=3e-3, value_coef=1.0, value_clip=None)
    learner.assign_values(trajectories)
    assert all(turn.value == 0.0 for t in trajectories for turn in t.turns)  # zero-initialised head
    assign_advantages(trajectories, algo)  # V_old and the targets R stay fixed from here on
    sequences = training_sequences(trajectories)
    count = sum(len(turn.action_ids) if states == "action tokens" else 1 for t in trajectories for turn in t.turns)
    assert sum(sum(s.value_mask) for s in sequences) == count  # the critic's states
    losses = [learner.update(trajectories)["value_loss"] for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(later < earlier for earlier, later in itertools.pairwise(losses)), losses


def test_token_level_targets_are_token_advantage_plus_token_value() -> None:
    learner, trajectories = critic_learner()
    with torch.no_grad():
        learner.critic.linear.weight.normal_(std=0.1, generator=torch.Generator().manual_seed(0))  # type: ignore[union-attr]
    learner.assign_values(trajectories)
    assign_advantages(trajectories, "ppo")
    trajectory = trajectories[7]
    [sequence] = training_sequences([trajectory])
    old_values, targets = sequence.value_states
    assert old_values == [v for turn in trajectory.turns for v in turn.token_values]  # type: ignore[union-attr]
    flat_advantages = [a for turn in trajectory.token_advantages for a in turn]  # type: ignore[union-attr]
    assert targets == pytest.approx([a + v for a, v in zip(flat_advantages, old_values)])
    # γ = λ = 1: R = A + V is the reward-to-go after each token, whatever the values
    rewards = [turn.reward for turn in trajectory.turns]
    expected = [sum(rewards[t:]) for t, turn in enumerate(trajectory.turns) for _ in turn.action_ids]
    assert targets == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("algo", ["turn_ppo", "ppo"])
def test_critic_update_is_independent_of_micro_batching(algo: str) -> None:
    gradients = []
    for budget in (10_000, 16):
        learner, trajectories = critic_learner(micro_batch_tokens=budget)
        with torch.no_grad():
            learner.critic.linear.weight.normal_(std=0.1, generator=torch.Generator().manual_seed(0))  # type: ignore[union-attr]
        learner.assign_values(trajectories)
        assign_advantages(trajectories, algo)
        stats = learner.update(trajectories)
        gradients.append((stats, learner.critic.linear.weight.grad.clone()))  # type: ignore[union-attr]
    (whole, whole_grad), (split, split_grad) = gradients
    assert split["micro_batches"] > whole["micro_batches"]
    assert split["value_loss"] == pytest.approx(whole["value_loss"], rel=1e-5)
    assert torch.allclose(whole_grad, split_grad, atol=1e-6)


def test_clipped_value_loss_and_explained_variance_by_hand() -> None:
    values, old, targets = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), torch.tensor([2.0, -1.0])
    # clip(1, 0 ± 0.2) = 0.2: max((1−2)², (0.2−2)²) = 3.24; the second is unclipped: (0+1)² = 1
    assert clipped_value_loss(values, old, targets, 0.2).tolist() == pytest.approx([1.62, 0.5])
    assert clipped_value_loss(values, old, targets, None).tolist() == pytest.approx([0.5, 0.5])
    assert explained_variance([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert explained_variance([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.0)


def test_checkpoint_round_trip_with_the_value_head(tmp_path: Path) -> None:
    learner, trajectories = critic_learner(lr=1e-2)
    learner.assign_values(trajectories)
    assign_advantages(trajectories, "turn_ppo")
    learner.update(trajectories)
    path = save_checkpoint(tmp_path, 1, learner.model, learner.optimizer, {}, value_head=learner.critic)
    assert (path / "value_head.safetensors").is_file()

    resumed, _ = critic_learner(lr=1e-2)
    load_checkpoint(path, resumed.model, resumed.optimizer, resumed.critic)
    assert torch.equal(resumed.critic.linear.weight, learner.critic.linear.weight)  # type: ignore[union-attr]
    moments = resumed.optimizer.state[resumed.critic.linear.weight]  # type: ignore[union-attr]
    assert torch.equal(moments["exp_avg"], learner.optimizer.state[learner.critic.linear.weight]["exp_avg"])  # type: ignore[union-attr]

    # the next update is the same for the original and the resumed learner
    again = copy.deepcopy(trajectories)
    learner.update(trajectories)
    resumed.update(again)
    assert torch.allclose(resumed.critic.linear.weight, learner.critic.linear.weight)  # type: ignore[union-attr]

    without = Learner(resumed.model, 0, LearnerSettings())
    with pytest.raises(ValueError, match="holds critic value head but the run has none"):
        load_checkpoint(path, without.model, without.optimizer)
