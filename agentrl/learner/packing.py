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
    """The advantage of each action token: its own (token-level credit) or its turn's (0 elsewhere)."""
    behaviour_logprobs: list[float]
    """The sampler's log-prob at action positions (0 elsewhere)."""
    turn_index: list[int]
    """Which turn each position belongs to."""
    trajectory_index: int
    value_mask: list[bool] = field(default_factory=list)
    """True at the action positions whose preceding state the critic is trained on: every action token
    with token-level credit, each turn's first action token otherwise (its state is the turn's h_t);
    all False when the turns carry no values. Empty means all False."""
    old_values: list[float] = field(default_factory=list)
    """V of those states from before the update (`turn.token_values` / `turn.value`; 0 elsewhere)."""
    value_targets: list[float] = field(default_factory=list)
    """The critic's target R = A + V_old of those states (0 elsewhere)."""

    @property
    def action_tokens(self) -> int:
        return sum(self.action_mask)


    @property
    def value_states(self) -> tuple[list[float], list[float]]:
        """(old values, targets) of the critic's states, in position order."""
        states = [p for p, is_state in enumerate(self.value_mask) if is_state]
        return [self.old_values[p] for p in states], [self.value_targets[p] for p in states]


def sequence_from_trajectory(trajectory: Trajectory, trajectory_index: int) -> TrainingSequence:
    """The trajectory as one sequence. Token-level advantages (`token_advantages`) are used when present,
    else each turn's advantage is broadcast to its action tokens. The critic's states and targets come
    from the values the turns carry: per action token with token-level credit, per turn otherwise."""
    turn_advantages = trajectory.advantages or [0.0] * len(trajectory.turns)
    token_level = trajectory.token_advantages is not None
    token_advantages = trajectory.token_advantages or [
        [advantage] * len(turn.action_ids) for turn, advantage in zip(trajectory.turns, turn_advantages, strict=True)
    ]
    has_values = bool(trajectory.turns) and all(
        (turn.token_values is not None) if token_level else (turn.value is not None) for turn in trajectory.turns
    )
    input_ids: list[int] = []
    action_mask: list[bool] = []
    position_advantages: list[float] = []
    behaviour: list[float] = []
    turn_index: list[int] = []
    value_mask: list[bool] = []
    old_values: list[float] = []
    for index, (turn, advantages) in enumerate(zip(trajectory.turns, token_advantages, strict=True)):
        n_obs, n_act = len(turn.observation_ids), len(turn.action_ids)
        if len(advantages) != n_act:
            raise ValueError(
                f"trajectory {trajectory_index} turn {index} has {len(advantages)} token advantages for {n_act} action tokens"
            )
        input_ids += turn.observation_ids + turn.action_ids
        action_mask += [False] * n_obs + [True] * n_act
        position_advantages += [0.0] * n_obs + list(advantages)
        behaviour += [0.0] * n_obs + list(turn.behaviour_logprobs)
        turn_index += [index] * (n_obs + n_act)
        if not has_values:
            continue
        if token_level:  # every action token's state: V_k = token_values[j]
            states, values = [True] * n_act, list(turn.token_values)  # type: ignore[arg-type]
        else:  # the turn's state h_t, read before its first action token
            states, values = [j == 0 for j in range(n_act)], [float(turn.value)] + [0.0] * (n_act - 1)  # type: ignore[arg-type]
        value_mask += [False] * n_obs + states
        old_values += [0.0] * n_obs + values[:n_act]
    targets = [  # R = A + V_old at the critic's states
        a + v if is_state else 0.0 for a, v, is_state in zip(position_advantages, old_values, value_mask)
    ]
    return TrainingSequence(
        input_ids, action_mask, position_advantages, behaviour, turn_index, trajectory_index,
        value_mask, old_values, targets,
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
    value_mask: torch.Tensor
    """Over next-token targets: True where the state before that action token is a critic state."""
    old_values: torch.Tensor
    value_targets: torch.Tensor
    """Over next-token targets: V before the update and the target R of those states (0 elsewhere)."""

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
    value_mask = torch.zeros((rows, longest), dtype=torch.bool)
    old_values = torch.zeros((rows, longest), dtype=torch.float32)
    value_targets = torch.zeros((rows, longest), dtype=torch.float32)
    for row, s in enumerate(sequences):
        n = len(s.input_ids)
        input_ids[row, :n] = torch.tensor(s.input_ids)
        attention_mask[row, :n] = 1
        action_mask[row, :n] = torch.tensor(s.action_mask)
        advantages[row, :n] = torch.tensor(s.advantages)
        behaviour[row, :n] = torch.tensor(s.behaviour_logprobs)
        turn_index[row, :n] = torch.tensor(s.turn_index)
        if s.value_mask:
            value_mask[row, :n] = torch.tensor(s.value_mask)
            old_values[row, :n] = torch.tensor(s.old_values)
            value_targets[row, :n] = torch.tensor(s.value_targets)
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
        value_mask=value_mask[:, 1:],
        old_values=old_values[:, 1:],
        value_targets=value_targets[:, 1:],
    )
