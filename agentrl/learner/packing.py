"""From trajectories to token batches.

One trajectory is one sequence: every turn's observation ids followed by its action ids, exactly as
the sampler saw them. Only action positions are trained. Sequences are sorted by length and packed
into micro-batches under a token budget (rows × longest row), so little padding is computed and a
padded position never enters the loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from agentrl.types import Trajectory


@dataclass(frozen=True)
class TrainingSequence:
    input_ids: list[int]
    action_mask: list[bool]
    """True where `input_ids[p]` is a sampled action token."""
    advantages: list[float]
    """The advantage of the turn each action token belongs to (0 elsewhere)."""
    behaviour_logprobs: list[float]
    """The sampler's log-prob at action positions (0 elsewhere)."""
    turn_index: list[int]
    """Which turn each position belongs to."""
    trajectory_index: int
    value_positions: list[int] = field(default_factory=list)
    """Per turn: the input position of the last context token before its action, where the critic reads
    V(h_t) (agentrl/learner/critic.py)."""
    old_values: list[float] = field(default_factory=list)
    """Per turn: V(h_t) from before the update (`turn.value`); empty when the turns carry no values."""
    value_targets: list[float] = field(default_factory=list)
    """Per turn: the critic's target R_t = A_t + V(h_t); empty when the turns carry no values."""

    @property
    def action_tokens(self) -> int:
        return sum(self.action_mask)


def sequence_from_trajectory(trajectory: Trajectory, trajectory_index: int) -> TrainingSequence:
    advantages = trajectory.advantages or [0.0] * len(trajectory.turns)
    input_ids: list[int] = []
    action_mask: list[bool] = []
    position_advantages: list[float] = []
    behaviour: list[float] = []
    turn_index: list[int] = []
    value_positions: list[int] = []
    for index, (turn, advantage) in enumerate(zip(trajectory.turns, advantages, strict=True)):
        n_obs, n_act = len(turn.observation_ids), len(turn.action_ids)
        value_positions.append(len(input_ids) + n_obs - 1)
        input_ids += turn.observation_ids + turn.action_ids
        action_mask += [False] * n_obs + [True] * n_act
        position_advantages += [0.0] * n_obs + [advantage] * n_act
        behaviour += [0.0] * n_obs + list(turn.behaviour_logprobs)
        turn_index += [index] * (n_obs + n_act)
    old_values: list[float] = []
    targets: list[float] = []
    if trajectory.turns and all(turn.value is not None for turn in trajectory.turns):
        old_values = [float(turn.value) for turn in trajectory.turns]  # type: ignore[arg-type]
        targets = [advantage + value for advantage, value in zip(advantages, old_values)]  # R_t = A_t + V(h_t)
    return TrainingSequence(
        input_ids, action_mask, position_advantages, behaviour, turn_index, trajectory_index,
        value_positions, old_values, targets,
    )


def training_sequences(trajectories: list[Trajectory], require_advantages: bool = True) -> list[TrainingSequence]:
    """Sequences of the trajectories that have action tokens and, unless `require_advantages` is
    False, are trainable and carry advantages."""
    return [
        sequence_from_trajectory(t, i)
        for i, t in enumerate(trajectories)
        if any(turn.action_ids for turn in t.turns)
        and (not require_advantages or (t.trainable and t.advantages is not None))
    ]


def pack_micro_batches(sequences: list[TrainingSequence], token_budget: int) -> list[list[TrainingSequence]]:
    """Greedy packing of length-sorted sequences: a micro-batch grows while rows × longest ≤ budget.
    A sequence longer than the budget gets a micro-batch of its own."""
    batches: list[list[TrainingSequence]] = []
    current: list[TrainingSequence] = []
    for sequence in sorted(sequences, key=lambda s: len(s.input_ids), reverse=True):
        longest = len(current[0].input_ids) if current else len(sequence.input_ids)
        if current and (len(current) + 1) * longest > token_budget:
            batches.append(current)
            current = []
        current.append(sequence)
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class MicroBatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    target_mask: torch.Tensor
    """Over next-token targets (positions 1..L-1): True where the target is an action token."""
    advantages: torch.Tensor
    behaviour_logprobs: torch.Tensor
    turn_index: torch.Tensor
    """Over next-token targets: the turn each target belongs to (segments for turn-level ratios)."""
    sequences: list[TrainingSequence]
    value_rows: torch.Tensor
    value_positions: torch.Tensor
    """Row and input position of each turn boundary state (flat, row-major), for the critic."""
    old_values: torch.Tensor
    value_targets: torch.Tensor
    """V(h_t) before the update and R_t of the same states; empty when the turns carry no values."""

    def action_rows_and_turns(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and turn of each action target, flat and row-major like the learner's log-probs."""
        rows = torch.arange(self.target_mask.shape[0])[:, None].expand_as(self.target_mask)
        return rows[self.target_mask], self.turn_index[self.target_mask]


def collate(sequences: list[TrainingSequence], pad_token_id: int) -> MicroBatch:
    """Right-padded tensors; targets are shifted by one (the logits at p predict token p+1)."""
    rows, longest = len(sequences), max(len(s.input_ids) for s in sequences)
    input_ids = torch.full((rows, longest), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((rows, longest), dtype=torch.long)
    action_mask = torch.zeros((rows, longest), dtype=torch.bool)
    advantages = torch.zeros((rows, longest), dtype=torch.float32)
    behaviour = torch.zeros((rows, longest), dtype=torch.float32)
    turn_index = torch.zeros((rows, longest), dtype=torch.long)
    for row, s in enumerate(sequences):
        n = len(s.input_ids)
        input_ids[row, :n] = torch.tensor(s.input_ids)
        attention_mask[row, :n] = 1
        action_mask[row, :n] = torch.tensor(s.action_mask)
        advantages[row, :n] = torch.tensor(s.advantages)
        behaviour[row, :n] = torch.tensor(s.behaviour_logprobs)
        turn_index[row, :n] = torch.tensor(s.turn_index)
    value_rows = [row for row, s in enumerate(sequences) for _ in s.value_positions]
    if action_mask[:, 0].any():
        raise ValueError("a sequence starts with an action token: nothing precedes it to predict it from")
    return MicroBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        target_mask=action_mask[:, 1:],
        advantages=advantages[:, 1:],
        behaviour_logprobs=behaviour[:, 1:],
        turn_index=turn_index[:, 1:],
        sequences=sequences,
        value_rows=torch.tensor(value_rows, dtype=torch.long),
        value_positions=torch.tensor([p for s in sequences for p in s.value_positions], dtype=torch.long),
        old_values=torch.tensor([v for s in sequences for v in s.old_values], dtype=torch.float32),
        value_targets=torch.tensor([r for s in sequences for r in s.value_targets], dtype=torch.float32),
    )
