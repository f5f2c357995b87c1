"""The split of a step's data into mini-batches: one optimizer step each (ALGORITHMS.md §3.4 holds per mini-batch).

The unit is the trajectory (all sequences of a windowed trajectory go together: its aggregation weight and a
sequence-level ratio need all of it). Trajectories are taken in the step's order and cut into contiguous
chunks, without shuffling, as verl's actor splits its batch: the step's trajectories arrive group by group,
so with `tasks_per_step` divisible by the count every mini-batch holds whole groups, and the split is the
same in every epoch and on every rank, with no random state to checkpoint.
"""

from __future__ import annotations

from agentrl.learner.packing import TrainingSequence


def split_into_mini_batches(sequences: list[TrainingSequence], count: int) -> list[list[TrainingSequence]]:
    """`count` contiguous chunks of whole trajectories, sizes differing by at most one (the larger first);
    fewer when the step has fewer trajectories than `count` (a mini-batch is never empty)."""
    if count < 1:
        raise ValueError(f"the mini-batch count must be >= 1, got {count}")
    by_trajectory: dict[int, list[TrainingSequence]] = {}
    for sequence in sequences:
        by_trajectory.setdefault(sequence.trajectory_index, []).append(sequence)
    trajectories = list(by_trajectory.values())
    chunks = min(count, len(trajectories))
    size, larger = divmod(len(trajectories), chunks) if chunks else (0, 0)
    out, start = [], 0
    for index in range(chunks):
        stop = start + size + (1 if index < larger else 0)
        out.append([sequence for rows in trajectories[start:stop] for sequence in rows])
        start = stop
    return out
