"""Turn- and sequence-level ratios, dual clip and the truncated off-policy weight, by hand and by the
ALGORITHMS.md §5 identities."""

import math

import torch

from agentrl.losses.ppo import ppo_clip_loss
from agentrl.losses.ratios import importance_ratio, segment_ids, truncated_discrepancy_weight


def test_segment_ids_per_level() -> None:
    rows, turns = torch.tensor([0, 0, 1, 1, 1]), torch.tensor([0, 1, 0, 0, 2])
    assert segment_ids("token", rows, turns).tolist() == [0, 1, 2, 3, 4]
    assert segment_ids("turn", rows, turns).tolist() == [0, 1, 2, 2, 3]
    assert segment_ids("sequence", rows, turns).tolist() == [0, 0, 1, 1, 1]


def test_turn_ratio_hand_computed() -> None:
    # turn 0: log ratios 0.2, 0.4 → exp(0.3) for both tokens; turn 1: −0.3 → exp(−0.3)
    logprobs, old = torch.tensor([-1.0, -0.6, -2.3]), torch.tensor([-1.2, -1.0, -2.0])
    ratio = importance_ratio(logprobs, old, segment_ids("turn", torch.zeros(3, dtype=torch.long), torch.tensor([0, 0, 1])))
    torch.testing.assert_close(ratio, torch.tensor([math.exp(0.3), math.exp(0.3), math.exp(-0.3)]))


def test_sequence_ratio_hand_computed() -> None:
    # row 0 (two turns): mean(0.1, 0.2, 0.6) = 0.3; row 1: mean(−0.2, 0.0) = −0.1
    log_ratio = torch.tensor([0.1, 0.2, 0.6, -0.2, 0.0])
    rows, turns = torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 0, 0])
    ratio = importance_ratio(log_ratio, torch.zeros(5), segment_ids("sequence", rows, turns))
    expected = torch.tensor([math.exp(0.3)] * 3 + [math.exp(-0.1)] * 2)
    torch.testing.assert_close(ratio, expected)


def test_turn_ratio_on_single_token_turns_is_the_token_ratio() -> None:
    generator = torch.Generator().manual_seed(0)
    logprobs, old = -torch.rand(6, generator=generator), -torch.rand(6, generator=generator)
    rows, turns = torch.tensor([0, 0, 0, 1, 1, 2]), torch.tensor([0, 1, 2, 0, 1, 0])
    token = importance_ratio(logprobs, old, segment_ids("token", rows, turns))
    assert torch.equal(importance_ratio(logprobs, old, segment_ids("turn", rows, turns)), token)
    assert torch.equal(importance_ratio(logprobs, old), token)


def test_sequence_ratio_on_one_turn_trajectories_is_the_turn_ratio() -> None:
    generator = torch.Generator().manual_seed(1)
    logprobs, old = -torch.rand(7, generator=generator), -torch.rand(7, generator=generator)
    rows, turns = torch.tensor([0, 0, 0, 1, 2, 2, 2]), torch.zeros(7, dtype=torch.long)
    sequence = importance_ratio(logprobs, old, segment_ids("sequence", rows, turns))
    assert torch.equal(sequence, importance_ratio(logprobs, old, segment_ids("turn", rows, turns)))


def test_turn_level_gradient_reaches_every_token_of_the_turn() -> None:
    # Turn 0: log ratios 0.1, 0.0, −0.04 → ρ = e^0.02 (inside the clip range), A = 2 on each token.
    # L = −Σ ρA = −6ρ and ∂ρ/∂log π_j = ρ/3, so ∂L/∂log π_j = −2ρ for all three tokens.
    # Turn 1: ρ = e^0.5 > 1.2 with A = 1: the clipped branch is active and no gradient flows.
    logprobs = torch.tensor([0.1, 0.0, -0.04, 0.5, 0.5], requires_grad=True)
    segments = torch.tensor([0, 0, 0, 1, 1])
    out = ppo_clip_loss(logprobs, torch.zeros(5), torch.tensor([2.0, 2.0, 2.0, 1.0, 1.0]), segments=segments)
    out.loss.sum().backward()
    assert logprobs.grad is not None
    rho = math.exp(0.02)
    torch.testing.assert_close(logprobs.grad, torch.tensor([-2 * rho] * 3 + [0.0, 0.0]))
    assert out.clipped.tolist() == [False, False, False, True, True]


def test_dual_clip_hand_computed() -> None:
    # ρ = e^1.5 = 4.48 with A = −1: the surrogate 4.48 is capped at −c·A = 3 (and its gradient is 0);
    # ρ = e^0.5 = 1.65 < c with A = −1 stays 1.65; A > 0 is never dual-clipped (ρ = e^1.5 → −1.2).
    logprobs = torch.tensor([1.5, 0.5, 1.5], requires_grad=True)
    advantages = torch.tensor([-1.0, -1.0, 1.0])
    plain = ppo_clip_loss(logprobs, torch.zeros(3), advantages)
    torch.testing.assert_close(plain.loss.detach(), torch.tensor([math.exp(1.5), math.exp(0.5), -1.2]))
    out = ppo_clip_loss(logprobs, torch.zeros(3), advantages, dual_clip=3.0)
    torch.testing.assert_close(out.loss.detach(), torch.tensor([3.0, math.exp(0.5), -1.2]))
    assert out.clipped.tolist() == [True, False, True]
    out.loss.sum().backward()
    assert logprobs.grad is not None
    torch.testing.assert_close(logprobs.grad, torch.tensor([0.0, math.exp(0.5), 0.0]))


def test_discrepancy_weight_is_truncated_at_the_cap() -> None:
    # π_old/μ per token: 3 → 2 (truncated), 1.5, 0.5. Per turn (tokens 0, 1 | 2): √(3·1.5) = 2.12 → 2, 0.5.
    behaviour = torch.zeros(3)
    old = torch.tensor([math.log(3.0), math.log(1.5), math.log(0.5)], requires_grad=True)
    per_token = truncated_discrepancy_weight(old, behaviour, cap=2.0)
    torch.testing.assert_close(per_token, torch.tensor([2.0, 1.5, 0.5]))
    assert not per_token.requires_grad  # a constant multiplier: no gradient through the weight
    per_turn = truncated_discrepancy_weight(old, behaviour, cap=2.0, segments=torch.tensor([0, 0, 1]))
    torch.testing.assert_close(per_turn, torch.tensor([2.0, 2.0, 0.5]))
    torch.testing.assert_close(truncated_discrepancy_weight(old, behaviour, cap=None), torch.ones(3))


def test_off_policy_weight_is_one_on_policy_at_every_level() -> None:
    logprobs = -torch.rand(5, generator=torch.Generator().manual_seed(2))
    rows, turns = torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 0, 0])
    for level in ("token", "turn", "sequence"):
        weight = truncated_discrepancy_weight(logprobs, logprobs.clone(), 2.0, segment_ids(level, rows, turns))
        assert torch.equal(weight, torch.ones(5))
