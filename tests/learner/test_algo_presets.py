"""Every algorithm preset in configs/algo composes with the defaults and validates into TrainConfig."""

from __future__ import annotations

import pytest

from agentrl.trainer.config import CONFIG_DIR, load_config

PRESETS = sorted(path.stem for path in (CONFIG_DIR / "algo").glob("*.yaml") if path.stem != "plugin")  # plugin: routing for plugin estimators


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_validates(preset: str) -> None:
    text = (CONFIG_DIR / "algo" / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_\n# "), "a preset starts with its package line and a header comment"
    config, resolved = load_config([f"algo={preset}"])
    assert config.algo.name and resolved


def test_the_new_presets_set_what_they_promise() -> None:
    dapo, _ = load_config(["algo=dapo"])
    assert (dapo.learner.clip_eps_high, dapo.rollout.filter, dapo.learner.aggregation) == (
        0.28, "zero_variance", "token_mean"
    )
    assert dapo.rewards == [{"name": "overlong", "max_length": 20480, "cache": 4096}]  # DAPO's L_max, L_cache
    ppo, _ = load_config(["algo=ppo"])
    assert (ppo.algo.name, dict(ppo.algo.params), ppo.learner.ratio_level) == ("ppo", {"gamma": 1.0, "lam": 1.0}, "token")
    dr_grpo, _ = load_config(["algo=dr_grpo", "rollout.max_context_tokens=512"])
    assert dr_grpo.algo.params["norm"] == "mean"
    assert (dr_grpo.learner.aggregation, dr_grpo.learner.constant_length) == ("constant", 512)
    gspo, _ = load_config(["algo=gspo"])
    assert gspo.learner.ratio_level == "sequence"
    st_ppo, _ = load_config(["algo=st_ppo"])
    assert (st_ppo.learner.ratio_level, st_ppo.learner.clip_bias_correction) == ("turn", True)
    assert (st_ppo.algo.name, st_ppo.algo.params["norm"]) == ("grpo", "mean")
