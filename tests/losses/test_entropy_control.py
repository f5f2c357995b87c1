"""The adaptive entropy coefficient's update rule against hand-worked steps."""

from __future__ import annotations

import pytest

from agentrl.losses.entropy_control import next_entropy_coef


def test_below_target_raises_the_coefficient_above_lowers_it() -> None:
    # c + η·(H* − H): 0.01 + 0.1·(0.5 − 0.3) = 0.03, 0.01 + 0.1·(0.5 − 0.55) = 0.005
    assert next_entropy_coef(0.01, entropy=0.3, target=0.5, lr=0.1, max_coef=1.0) == pytest.approx(0.03)
    assert next_entropy_coef(0.01, entropy=0.55, target=0.5, lr=0.1, max_coef=1.0) == pytest.approx(0.005)
    assert next_entropy_coef(0.01, entropy=0.5, target=0.5, lr=0.1, max_coef=1.0) == 0.01


def test_the_coefficient_is_clamped_to_zero_and_the_maximum() -> None:
    assert next_entropy_coef(0.01, entropy=2.0, target=0.5, lr=0.1, max_coef=1.0) == 0.0  # 0.01 − 0.15
    assert next_entropy_coef(0.04, entropy=0.0, target=0.5, lr=0.1, max_coef=0.05) == 0.05  # 0.04 + 0.05 → max


def test_repeated_steps_settle_where_entropy_meets_the_target() -> None:
    # a toy policy whose entropy rises with the bonus, H = 0.2 + 10·c: the fixed point c* = 0.03 gives H* = 0.5
    coef = 0.0
    for _ in range(200):
        coef = next_entropy_coef(coef, entropy=0.2 + 10 * coef, target=0.5, lr=0.05, max_coef=1.0)
    assert coef == pytest.approx(0.03)
