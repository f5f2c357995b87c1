"""A short seeded run whose numbers are pinned: a silent change in sampling, credit, loss or the
optimizer moves them and fails here (torchtune-style recipe test).

If a change is *meant* to move them (a new default, a fixed bug), re-pin with the numbers the test
prints, and say why in the commit message.
"""

from __future__ import annotations

import pytest

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train

PINNED = {
    # step: (reward_mean, loss, entropy)
    # step 1: every episode runs all 12 turns, so the token-weighted mean advantage (and the loss) is 0
    1: (-0.925, -6.208817349140361e-10, 2.6073872248331704),
    2: (-0.3625, 0.15520834922790527, 2.5923166275024414),
    3: (-0.575, 0.07134146243333817, 2.5270947712223704),
}


def test_seeded_short_run_reproduces_pinned_numbers(tmp_path) -> None:
    config, resolved = load_config(
        [
            "env=frozenlake",
            "algo=gigpo",
            "model=tiny",
            "trainer.steps=3",
            "rollout.tasks_per_step=2",
            "rollout.group_size=4",
            "trainer.progress=false",
            "trainer.eval_every=0",
            f"trainer.runs_dir={tmp_path}",
        ]
    )
    run = train(config, resolved)
    metrics = {m["step"]: m for m in run.run_dir.read_metrics()}
    observed = {step: (m["reward_mean"], m["loss"], m["entropy"]) for step, m in metrics.items()}
    print("observed:", observed)
    assert sorted(observed) == [1, 2, 3]
    for step, expected in PINNED.items():
        assert observed[step] == pytest.approx(expected, abs=1e-5), f"step {step}: {observed[step]} != {expected}"
