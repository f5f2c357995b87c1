"""The algorithm presets in configs/algo compose, validate, and hold the values docs/algorithms.md names."""

from __future__ import annotations

import pytest

from agentrl.trainer.config import load_config


@pytest.mark.parametrize(
    ("preset", "name", "params", "entropy_coef"),
    [
        ("turn_grpo", "turn_grpo", {"norm": "mean", "gamma": 1.0, "turn_weight": 1.0}, 0.05),
        ("tempo", "tempo", {"norm": "mean", "level": "turn", "beta": 1.0}, 0.05),
        (
            "gigpo_nostd",
            "gigpo",
            {
                "mode": "mean",
                "gamma": 0.95,
                "omega": 1.0,
                "episode_stats": "per_trajectory",
                "anchor": "state",
            },
            0.0,
        ),
    ],
)
def test_preset_composes_and_validates(
    preset: str, name: str, params: dict[str, object], entropy_coef: float
) -> None:
    config, _ = load_config([f"algo={preset}"])  # validation runs the estimator on [] with these params
    assert config.algo.name == name
    assert dict(config.algo.params) == params
    assert config.learner.entropy_coef == entropy_coef


def test_gigpo_paper_settings_are_one_override_away() -> None:
    config, _ = load_config(
        ["algo=gigpo", "algo.params.mode=mean_std", "+algo.params.episode_stats=per_step"]
    )
    assert dict(config.algo.params) == {
        "mode": "mean_std",
        "gamma": 0.95,
        "omega": 1.0,
        "episode_stats": "per_step",
    }
