"""From trajectories to token batches.

A trajectory whose contexts grew append-only (full history) is one sequence: every turn's observation
ids followed by its action ids, exactly as the sampler saw them. A turn whose context was rebuilt (a
window, `Turn.context_ids`) starts a sequence of its own from those exact ids, so every action is
trained in the context it was sampled in. Only action positions are trained. The sequences of one
trajectory stay in one micro-batch (a sequence-level ratio spans the whole trajectory); trajectories
are sorted by length and packed under a token budget (rows × longest row), so little padding is
computed and a padded position never enters the loss.
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
    """Which turn each position belongs to (a rebuilt context belongs to the turn it was built for)."""
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
    def action_turns(self) -> list[int]:
        """The turns whose action tokens this sequence holds, in order."""
        return list(dict.fromkeys(t for t, is_action in zip(self.turn_index, self.action_mask) if is_action))

    @property
    def value_states(self) -> tuple[list[float], list[float]]:
        """(old values, targets) of the critic's states, in position order."""
        states = [p for p, is_state in enumerate(self.value_mask) if is_state]
        return [self.old_values[p] for p in states], [self.value_targets[p] for p in states]


def sequences_from_trajectory(trajectory: Trajectory, trajectory_index: int) -> list[TrainingSequence]:
    """The trajectory's sequences: a new one starts at the first turn and at every turn with
    `context_ids`; those without action tokens are left out (nothing to train)."""
    starts = [index for index, turn in enumerate(trajectory.turns) if index == 0 or turn.context_ids is not None]
    stops = [*starts[1:], len(trajectory.turns)]
    sequences = [sequence_from_trajectory(trajectory, trajectory_index, start, stop) for start, stop in zip(starts, stops)]
    return [sequence for sequence in sequences if sequence.action_tokens]


def sequence_from_trajectory(
    trajectory: Trajectory, trajectory_index: int, start: int = 0, stop: int | None = None
) -> TrainingSequence:
    """Turns `start..stop−1` (all by default) as one sequence: the first turn's context (`context_ids`, else
    its observation ids) and action, then each later turn's observation and action ids, which must
    have extended that context append-only. Token-level advantages (`token_advantages`) are used when
    present, else each turn's advantage is broadcast to its action tokens. The critic's states and
    targets come from the values the turns carry: per action token with token-level credit, per turn
    otherwise."""
    stop = len(trajectory.turns) if stop is None else stop
    turn_advantages = trajectory.advantages or [0.0] * len(trajectory.turns)
    token_level = trajectory.token_advantages is not None
    token_advantages = trajectory.token_advantages or [
        [advantage] * len(turn.action_ids) for turn, advantage in zip(trajectory.turns, turn_advantages, strict=True)
    ]
    if len(token_advantages) != len(trajectory.turns):
        raise ValueError(
            f"trajectory {trajectory_index} has {len(token_advantages)} token advantage lists for "
            f"{len(trajectory.turns)} turns"
        )
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
    for index in range(start, stop):
        turn, advantages = trajectory.turns[index], token_advantages[index]
        if index > start and turn.context_ids is not None:
            raise ValueError(
                f"trajectory {trajectory_index} turn {index} has a rebuilt context; it starts a sequence of its "
                "own (sequences_from_trajectory)"
            )
        shown = turn.observation_ids if index > start or turn.context_ids is None else turn.context_ids
        n_obs, n_act = len(shown), len(turn.action_ids)
        if len(advantages) != n_act:
            raise ValueError(
                f"trajectory {trajectory_index} turn {index} has {len(advantages)} token advantages for {n_act} action tokens"
            )
        input_ids += shown + turn.action_ids
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
        sequence
        for i, t in enumerate(trajectories)
        if any(turn.action_ids for turn in t.turns)
        and (not require_advantages or (t.trainable and t.advantages is not None))
        for sequence in sequences_from_trajectory(t, i)
    ]


def pack_micro_batches(sequences: list[TrainingSequence], token_budget: int) -> list[list[TrainingSequence]]:
    """Greedy packing of trajectories sorted by their longest sequence: a micro-batch grows by a
    trajectory's sequences while rows × longest ≤ budget. A trajectory over the budget gets a
    micro-batch of its own; its sequences are never split, so sequence-level ratios see all of it."""
    trajectories: dict[int, list[TrainingSequence]] = {}
    for sequence in sequences:
        trajectories.setdefault(sequence.trajectory_index, []).append(sequence)
    batches: list[list[TrainingSequence]] = []
    current: list[TrainingSequence] = []
    longest = 0
    for rows in sorted(trajectories.values(), key=lambda rows: max(len(s.input_ids) for s in rows), reverse=True):
        longest = longest if current else max(len(s.input_ids) for s in rows)
        if current and (len(current) + len(rows)) * longest > token_budget:
            batches.append(current)
            current, longest = [], max(len(s.input_ids) for s in rows)
        current += rows
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

    def action_rows_and_turns(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Row, trajectory and turn of each action target, flat and row-major like the learner's log-probs.
        Ratio segments are keyed by trajectory, not row: a windowed trajectory spans several rows."""
        rows = torch.arange(self.target_mask.shape[0])[:, None].expand_as(self.target_mask)
        owners = torch.tensor([s.trajectory_index for s in self.sequences])[rows]
        return rows[self.target_mask], owners[self.target_mask], self.turn_index[self.target_mask]


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
