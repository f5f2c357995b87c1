"""The open-loop baseline search on hand-built maps."""

from agentrl.environments.frozenlake.baselines import best_open_loop_success


def test_one_sequence_solves_a_single_map() -> None:
    rate, sequence = best_open_loop_success([["SF", "FG"]], max_length=2)
    assert rate == 1.0
    assert len(sequence) == 2 and set(sequence) == {"down", "right"}


def test_maps_that_need_opposite_sequences_cap_open_loop_at_half() -> None:
    # The first map must go down then right, the second right then down; holes end the other order.
    rate, _ = best_open_loop_success([["SH", "FG"], ["SF", "HG"]], max_length=6)
    assert rate == 0.5


def test_walls_keep_the_agent_in_place() -> None:
    # "up" and "left" bump into the border without moving, so they do not hurt.
    rate, sequence = best_open_loop_success([["SFG"]], max_length=3)
    assert rate == 1.0 and sequence[-2:] == ("right", "right") and set(sequence) <= {"left", "up", "right"}
