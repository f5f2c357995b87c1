"""§3.3 clipping-bias correction (S-PPO / ST-PPO): each turn is weighted by its share of tokens whose
token ratio is inside the clip range; a turn with no token outside keeps weight 1."""

from __future__ import annotations

import math

import torch

from agentrl.losses.ppo import clip_bias_weight, ppo_clip_loss
from agentrl.losses.ratios import segment_ids


def test_hand_example() -> None:
    # Turn 0: token ratios 1.0, 1.5, 1.1, 0.5: two of four inside [0.8, 1.2] → 1/2.
    # Turn 1: token ratios 1.0, 1.3 → 1/2.  Turn 2: 0.9, 1.19 → all inside, 1.
    ratios = torch.tensor([1.0, 1.5, 1.1, 0.5, 1.0, 1.3, 0.9, 1.19])
    segments = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    weight = clip_bias_weight(ratios.log(), torch.zeros(8), segments, 0.2, 0.2)
    torch.testing.assert_close(weight, torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0]))
    # clip-higher widens the range on the upper side only: 1.3 is now inside.
    wider = clip_bias_weight(ratios.log(), torch.zeros(8), segments, 0.2, 0.3)
    assert wider[4:6].tolist() == [1.0, 1.0]


def test_it_acts_where_the_turn_ratio_is_inside_but_tokens_are_not() -> None:
    """Token ratios 1.5 and 0.7: the turn's geometric mean √1.05 ≈ 1.02 is inside the clip range, so
    the turn keeps its gradient, but neither token is inside: the turn is weighted 0. A one-token turn
    with ratio 1.1 keeps weight 1."""
    logprobs = torch.tensor([math.log(1.5), math.log(0.7), math.log(1.1)])
    old = torch.zeros(3)
    segments = segment_ids("turn", torch.tensor([0, 0, 0]), torch.tensor([0, 0, 1]))
    surrogate = ppo_clip_loss(logprobs, old, torch.ones(3), segments=segments)
    assert not surrogate.clipped.any()
    torch.testing.assert_close(clip_bias_weight(logprobs, old, segments), torch.tensor([0.0, 0.0, 1.0]))


def test_sequence_unit_and_the_weighted_loss_by_hand() -> None:
    """ALGORITHMS.md §3.3 at ratio_level sequence: the unit is the whole trajectory. Trajectory 0 has
    token ratios 1.5, 1.0 (turn 0) and 0.5 (turn 1): one of three inside [0.8, 1.2] → 1/3 on all three
    tokens, whatever the turns. Trajectory 1 (ratios 1.0, 1.1) keeps 1. With A = 1 and the token level
    surrogate −min(ρ, clip(ρ)) = (−1.2, −1.0, −0.5, −1.0, −1.1), the corrected token losses are
    (−0.4, −1/3, −1/6, −1.0, −1.1)."""
    ratios = torch.tensor([1.5, 1.0, 0.5, 1.0, 1.1])
    rows, turns = torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 0, 0])
    weight = clip_bias_weight(ratios.log(), torch.zeros(5), segment_ids("sequence", rows, turns))
    torch.testing.assert_close(weight, torch.tensor([1 / 3, 1 / 3, 1 / 3, 1.0, 1.0]))
    surrogate = ppo_clip_loss(ratios.log(), torch.zeros(5), torch.ones(5))
    torch.testing.assert_close(weight * surrogate.loss, torch.tensor([-0.4, -1 / 3, -1 / 6, -1.0, -1.1]))
    # at the turn level the same tokens split into three units: 1/2, 0 (0.5 alone, outside), 1
    turn_weight = clip_bias_weight(ratios.log(), torch.zeros(5), segment_ids("turn", rows, turns))
    torch.testing.assert_close(turn_weight, torch.tensor([0.5, 0.5, 0.0, 1.0, 1.0]))


def test_on_policy_every_weight_is_one() -> None:
    logprobs = torch.tensor([-0.5, -2.0, -0.1])
    assert clip_bias_weight(logprobs, logprobs.clone(), torch.tensor([0, 0, 1])).tolist() == [1.0, 1.0, 1.0]
