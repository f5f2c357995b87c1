"""Policy losses by name: built-ins, in-code registration and plugins found through entry points, each
trained with by the learner; unknown names and broken plugins fail at config time."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agentrl.learner.learner import policy_loss_for
from agentrl.learner.settings import LearnerSettings
from agentrl.losses.policy import POLICY_LOSSES, PolicyLossOptions
from agentrl.losses.ppo import ClippedSurrogate
from agentrl.registry import PluginLoadError, UnknownNameError
from tests.learner.test_learner_update import on_policy_learner

PLUGIN_MODULE = '''
from agentrl.losses.policy import ppo


def halved_ppo(logprobs, old_logprobs, advantages, segments, options):
    """PPO at half weight."""
    surrogate = ppo(logprobs, old_logprobs, advantages, segments, options)
    return type(surrogate)(loss=0.5 * surrogate.loss, clipped=surrogate.clipped, ratio=surrogate.ratio)
'''


@pytest.fixture
def loss_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed metadata for a plugin with one working loss and one that cannot be imported, found the
    way pip-installed ones are (as in tests/env/test_registry.py)."""
    dist_info = tmp_path / "agentrl_loss_plugins-0.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: agentrl-loss-plugins\nVersion: 0.0.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[agentrl.policy_losses]\n"
        "halved_ppo = agentrl_halved_ppo_plugin:halved_ppo\n"
        "ghost = agentrl_ghost_loss_nowhere:loss\n"
    )
    (tmp_path / "agentrl_halved_ppo_plugin.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))


def unit_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, segments: torch.Tensor | None,
    options: PolicyLossOptions,
) -> ClippedSurrogate:
    """1 per token, with no gradient: a token mean of exactly 1 and nothing to step on."""
    return ClippedSurrogate(
        loss=torch.ones_like(logprobs) + 0.0 * logprobs, clipped=torch.zeros_like(logprobs, dtype=torch.bool),
        ratio=torch.ones_like(logprobs),
    )


def test_a_loss_registered_in_code_is_the_one_the_learner_trains_with() -> None:
    POLICY_LOSSES.register("unit", unit_loss)
    try:
        learner, trajectories = on_policy_learner(LearnerSettings(policy_loss="unit"))
        before = [p.detach().clone() for p in learner.model.parameters()]
        stats = learner.update(trajectories)
    finally:
        POLICY_LOSSES.unregister("unit")
    assert stats["loss"] == pytest.approx(1.0) and stats["grad_norm"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, learner.model.parameters(), strict=True))


def test_an_unknown_loss_names_the_close_match_and_how_to_add_one() -> None:
    with pytest.raises(UnknownNameError) as caught:
        policy_loss_for(LearnerSettings(policy_loss="cispoo"))
    message = str(caught.value)
    assert message.startswith("learner.policy_loss: unknown policy loss 'cispoo' (did you mean 'cispo'?); valid: ")
    assert "clip_cov, kl_cov, ppo, sapo" in message and "entry-point group 'agentrl.policy_losses'" in message
    assert isinstance(caught.value, ValueError)


def test_a_plugin_loss_from_an_entry_point_is_listed_and_trained_with(loss_plugins: None) -> None:
    infos = {info.name: info for info in POLICY_LOSSES.entries()}
    assert infos["halved_ppo"].ok and infos["halved_ppo"].source == "agentrl_halved_ppo_plugin:halved_ppo"
    assert infos["ghost"].error == "ModuleNotFoundError: No module named 'agentrl_ghost_loss_nowhere'"
    assert infos["ppo"].source == "built-in"
    # on-policy (ρ = 1) PPO's token-mean loss is −mean(A); the plugin's is half of it, on the same model
    ppo_learner, trajectories = on_policy_learner(LearnerSettings(policy_loss="ppo"))
    plugin_learner, _ = on_policy_learner(LearnerSettings(policy_loss="halved_ppo"))
    ppo_loss = ppo_learner.update(trajectories)["loss"]
    assert plugin_learner.update(trajectories)["loss"] == pytest.approx(0.5 * ppo_loss)
    assert ppo_loss != 0.0


def test_a_broken_plugin_loss_fails_when_looked_up(loss_plugins: None) -> None:
    with pytest.raises(PluginLoadError, match="policy loss 'ghost' could not be loaded from entry point"):
        policy_loss_for(LearnerSettings(policy_loss="ghost"))
