"""The supervised objective: the NLL of action tokens only, hand-checked on a hand-built trajectory."""

from __future__ import annotations

import torch

from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.learner.supervised import action_nll
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import Trajectory, Turn


def test_action_nll_is_the_negative_log_prob_sum_over_the_step_tokens() -> None:
    assert float(action_nll(torch.tensor([-1.0, -2.0, -3.0]), 3)) == 2.0
    assert float(action_nll(torch.tensor([-1.0, -2.0]), 4)) == 0.75  # a micro-batch's share of a 4-token step


def test_only_action_tokens_carry_loss() -> None:
    tokenizer = build_tiny_tokenizer(["a", "b", "c", "d"])
    model = build_tiny_model(tokenizer, TinyModelShape(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), 0)
    turns = [
        Turn(observation_ids=[3, 5, 6], action_ids=[7], behaviour_logprobs=[0.0], policy_version=-1),
        Turn(observation_ids=[3, 8], action_ids=[6, 1], behaviour_logprobs=[0.0, 0.0], policy_version=-1),
    ]
    trajectory = Trajectory(task_id="t", group_id="g", env_name="hand", seed=0, turns=turns)
    ids = [3, 5, 6, 7, 3, 8, 6, 1]
    action_positions = [3, 6, 7]  # of `ids`: 7, then 6 and 1
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
    expected = -sum(float(logprobs[p - 1, ids[p]]) for p in action_positions) / len(action_positions)

    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(lr=0.0, grad_clip=1e9))
    stats = learner.supervised_update([trajectory])
    assert stats["trained_tokens"] == 3.0
    assert abs(stats["loss"] - expected) < 1e-5

    # The observation tokens' own next-token losses are not in it: the mean over every target differs.
    every_target = -sum(float(logprobs[p - 1, ids[p]]) for p in range(1, len(ids))) / (len(ids) - 1)
    assert abs(stats["loss"] - every_target) > 1e-3
