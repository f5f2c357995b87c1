"""`agentrl algos` lists every registry, policy losses included, in-process."""

from __future__ import annotations

import pytest

from agentrl.cli.algos import main
from agentrl.losses.policy import POLICY_LOSSES
from tests.learner.test_policy_loss_registry import unit_loss


def test_policy_losses_are_listed_with_their_summary_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    POLICY_LOSSES.register("unit", unit_loss)
    try:
        assert main([]) == 0
    finally:
        POLICY_LOSSES.unregister("unit")
    out = capsys.readouterr().out
    assert "policy losses (learner.policy_loss) (entry-point group agentrl.policy_losses)" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert "built-in" in rows["clip_cov"] and "PPO with a few high-covariance tokens detached" in rows["clip_cov"]
    assert "in-code" in rows["unit"] and "1 per token, with no gradient" in rows["unit"]
    assert "gamma=0.95" in rows["gigpo"]  # the estimators' table is still there
