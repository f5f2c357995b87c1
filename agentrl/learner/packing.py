"""From trajectories to token batches.

A trajectory whose contexts grew append-only (full history) is one sequence: every turn's observation
ids followed by its action ids, exactly as the sampler saw them. A turn whose context was rebuilt (a
window, `Turn.context_ids`) starts a sequence of its own from those exact ids, so every action is
trained in the context it was sampled in. Only action positions are trained. The sequences of one
trajectory stay in one micro-batch (a sequence-level ratio spans the whole trajectory); trajectories
are sorted by length and packed under a token budget (rows × longest row), one sequence per row
(`padded`) or several end to end in a row (`flat`, padding-free but for row ends), so little padding
is computed and a padded position never enters the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from agentrl.learner.settings import PACKINGS
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



Rows = list[list[TrainingSequence]]
"""One micro-batch's layout: the sequences of each row, in order."""


def pack_micro_batches(sequences: list[TrainingSequence], token_budget: int, packing: str) -> list[Rows]:
    """First-fit decreasing over trajectories sorted by their longest sequence: a trajectory joins the first
    micro-batch whose rows × width stays within the budget with its sequences placed (width: that micro-batch's
    first, longest sequence), else opens one. A trajectory is never split across micro-batches (a
    sequence-level ratio sees all of it); one over the budget gets a micro-batch of its own."""
    if packing not in PACKINGS:
        raise ValueError(f"packing must be one of {', '.join(PACKINGS)}, got {packing!r}")
    trajectories: dict[int, list[TrainingSequence]] = {}
    for sequence in sequences:
        trajectories.setdefault(sequence.trajectory_index, []).append(sequence)
    batches: list[tuple[int, Rows]] = []  # (width, rows)
    tokens: list[int] = []
    """Tokens held by each micro-batch: a group that would take one past the budget cannot fit in any
    layout (rows × width ≥ tokens), so it is skipped without trying a placement."""
    for group in sorted(trajectories.values(), key=lambda group: max(len(s.input_ids) for s in group), reverse=True):
        size = sum(len(s.input_ids) for s in group)
        for index, (width, rows) in enumerate(batches):
            if tokens[index] + size > token_budget:
                continue
            placed = _placed(rows, group, width, packing)
            if len(placed) * width <= token_budget:
                batches[index] = (width, placed)
                tokens[index] += size
                break
        else:
            width = max(len(s.input_ids) for s in group)
            batches.append((width, _placed([], group, width, packing)))
            tokens.append(size)
    return [rows for _, rows in batches]


def _placed(rows: Rows, group: list[TrainingSequence], width: int, packing: str) -> Rows:
    """`rows` with the group's sequences added: each on a new row (`padded`), or on the first row with room
    for it, else a new one (`flat`). Returns new lists; `rows` is left as it was."""
    placed = [list(row) for row in rows]
    for sequence in group:
        fits = (
            row for row in placed
            if packing == "flat" and sum(len(s.input_ids) for s in row) + len(sequence.input_ids) <= width
        )
        row = next(fits, None)
        if row is None:
            placed.append([sequence])
        else:
            row.append(sequence)
    return placed


@dataclass(frozen=True)
class MicroBatch:
    input_ids: torch.Tensor
    position_ids: torch.Tensor
    """Restart at 0 for every sequence (and for the padding after a row's last one)."""
    attention_mask: torch.Tensor | None
    """1 on tokens, 0 on padding, when each row holds one sequence; None when a row holds several: the model
    then builds a block-diagonal causal mask from `position_ids` (transformers' packed-sequence format), so a
    sequence never attends to another."""
    target_mask: torch.Tensor
    """Over next-token targets (positions 1..L-1): True where the target is an action token."""
    advantages: torch.Tensor
    behaviour_logprobs: torch.Tensor
    turn_index: torch.Tensor
    """Over next-token targets: the turn each target belongs to (segments for turn-level ratios)."""
    sequence_index: torch.Tensor
    """Over next-token targets: which of `sequences` each target belongs to (0 on padding)."""
    sequences: list[TrainingSequence]
    """In layout order (row by row, left to right), the order of the flat per-action-token tensors."""
    value_mask: torch.Tensor
    """Over next-token targets: True where the state before that action token is a critic state."""
    old_values: torch.Tensor
    value_targets: torch.Tensor
    """Over next-token targets: V before the update and the target R of those states (0 elsewhere)."""

    @property
    def padding(self) -> int:
        """Positions computed that hold no token."""
        return self.input_ids.numel() - sum(len(s.input_ids) for s in self.sequences)

    def action_sequences_and_turns(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sequence (index into `sequences`), trajectory and turn of each action target, flat and in layout
        order like the learner's log-probs. Ratio segments are keyed by trajectory, not row or sequence: a
        windowed trajectory spans several sequences."""
        sequence_index = self.sequence_index[self.target_mask]
        owners = torch.tensor([s.trajectory_index for s in self.sequences])[sequence_index]
        return sequence_index, owners, self.turn_index[self.target_mask]


def collate(rows: Rows, pad_token_id: int) -> MicroBatch:
    """Each row's sequences end to end, right-padded to the longest row; targets are shifted by one (the
    logits at p predict token p+1). A sequence's first token is never an action, so no target crosses from
    one sequence into the next."""
    sequences = [s for row in rows for s in row]
    if any(s.action_mask[0] for s in sequences):
        raise ValueError("a sequence starts with an action token: nothing precedes it to predict it from")
    width = max(sum(len(s.input_ids) for s in row) for row in rows)

    def laid_out(values: Callable[[int, TrainingSequence], list], fill: float, dtype: torch.dtype) -> torch.Tensor:
        """One per-position field of every sequence, laid out in `rows`; `fill` on padding."""
        out = torch.full((len(rows), width), fill, dtype=dtype)
        index = 0
        for r, row in enumerate(rows):
            row_values = []
            for sequence in row:
                row_values += values(index, sequence)
                index += 1
            out[r, : len(row_values)] = torch.tensor(row_values, dtype=dtype)
        return out

    def nothing(s: TrainingSequence) -> list:
        return [0] * len(s.input_ids)

    input_ids = laid_out(lambda _, s: s.input_ids, pad_token_id, torch.long)
    lengths = torch.tensor([[sum(len(s.input_ids) for s in row)] for row in rows])
    is_token = torch.arange(width)[None, :] < lengths
    positions = laid_out(lambda _, s: list(range(len(s.input_ids))), 0, torch.long)
    # padding restarts at 0 too: in the packed format it is a sequence of its own, attended by no token
    position_ids = torch.where(is_token, positions, torch.arange(width)[None, :] - lengths)
    action_mask = laid_out(lambda _, s: s.action_mask, False, torch.bool)
    advantages = laid_out(lambda _, s: s.advantages, 0.0, torch.float32)
    behaviour = laid_out(lambda _, s: s.behaviour_logprobs, 0.0, torch.float32)
    turn_index = laid_out(lambda _, s: s.turn_index, 0, torch.long)
    sequence_index = laid_out(lambda i, s: [i] * len(s.input_ids), 0, torch.long)
    value_mask = laid_out(lambda _, s: s.value_mask or nothing(s), False, torch.bool)
    old_values = laid_out(lambda _, s: s.old_values or nothing(s), 0.0, torch.float32)
    value_targets = laid_out(lambda _, s: s.value_targets or nothing(s), 0.0, torch.float32)
    return MicroBatch(
        input_ids=input_ids,
        position_ids=position_ids,
        attention_mask=is_token.long() if all(len(row) == 1 for row in rows) else None,
        target_mask=action_mask[:, 1:],
        advantages=advantages[:, 1:],
        behaviour_logprobs=behaviour[:, 1:],
        turn_index=turn_index[:, 1:],
        sequence_index=sequence_index[:, 1:],
        sequences=sequences,
        value_mask=value_mask[:, 1:],
        old_values=old_values[:, 1:],
        value_targets=value_targets[:, 1:],
    )
