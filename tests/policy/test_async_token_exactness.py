"""Token exactness in async training mode: the rollout of step k+1 runs (concurrent episodes, several
tokens per reply) while the learner trains on step k, with `rollout.max_staleness=1`.

Every turn keeps the version of the weights that sampled it, and those weights reach the sampler
whole, between generation calls: recomputing each turn's action log-probs with the learner's
checkpoint of that version gives its behaviour log-probs (fp32, CPU, atol 1e-4), the same bound as
the synchronous test. The overlap is real: step 2 trains on turns sampled before update 1 (staleness
1), and no turn is older than the bound.
"""

from __future__ import annotations

import torch
from safetensors.torch import load_model

from agentrl.env.registry import make_env_spec
from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.loading import load_model_and_tokenizer
from agentrl.store.run_dir import RunDir
from agentrl.store.trajectory_json import read_trajectories
from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train

STEPS = 3


def test_async_training_keeps_behaviour_logprobs_exact_per_version(tmp_path) -> None:
    config, resolved = load_config(
        [
            "env=frozenlake", "algo=grpo", "model=tiny", "model.max_new_tokens=3",
            f"trainer.steps={STEPS}", "rollout.tasks_per_step=2", "rollout.group_size=4",
            "rollout.mode=async", "rollout.max_staleness=1",
            "trainer.save_every=1", f"trainer.keep_checkpoints={STEPS}",
            "trainer.progress=false", "trainer.eval_every=0", f"trainer.runs_dir={tmp_path}", "trainer.run_name=async",
        ]
    )
    train(config, resolved)
    run_dir = RunDir("async", tmp_path)

    spec = make_env_spec("frozenlake", config.env.params)
    model, tokenizer = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    weights = {0: {k: v.clone() for k, v in model.state_dict().items()}}  # version 0: the initial model
    for version in range(1, STEPS):
        load_model(model, str(run_dir.checkpoints_dir / f"step_{version:06d}" / "model.safetensors"))
        weights[version] = {k: v.clone() for k, v in model.state_dict().items()}
    learner = Learner(model, tokenizer.pad_token_id, LearnerSettings(micro_batch_tokens=512), temperature=1.0)

    metrics = {m["step"]: m for m in run_dir.read_metrics()}
    compared = 0
    versions_by_step: dict[int, set[int]] = {}
    for step in range(1, STEPS + 1):
        trajectories = [t for t in read_trajectories(run_dir.trajectories_path(step)) if t.trainable]
        assert sum(len(t.turns) for t in trajectories) > len(trajectories), "episodes must be multi-turn"
        versions_by_step[step] = {turn.policy_version for t in trajectories for turn in t.turns}
        assert metrics[step]["stale_dropped_episodes"] == 0
        for version in versions_by_step[step]:
            model.load_state_dict(weights[version])
            for trajectory, per_turn in zip(trajectories, learner.action_logprobs(trajectories)):
                for turn, logprobs in zip(trajectory.turns, per_turn):
                    if turn.policy_version != version:
                        continue
                    torch.testing.assert_close(
                        torch.tensor(logprobs), torch.tensor(turn.behaviour_logprobs), atol=1e-4, rtol=0
                    )
                    compared += 1
    assert compared == sum(
        len(t.turns) for step in range(1, STEPS + 1) for t in read_trajectories(run_dir.trajectories_path(step))
        if t.trainable
    )
    assert versions_by_step[1] == {0}
    for step in range(2, STEPS + 1):
        # Sampled while the learner trained step-1: the weights of update step-2, or of step-1 once synced.
        assert versions_by_step[step] <= {step - 2, step - 1}
        assert step - 2 in versions_by_step[step]
        assert metrics[step]["staleness_mean"] > 0


def test_async_with_max_staleness_0_drops_and_counts_the_stale_episodes(tmp_path) -> None:
    config, resolved = load_config(
        [
            "env=frozenlake", "algo=grpo", "model=tiny", "trainer.steps=2", "rollout.tasks_per_step=2",
            "rollout.group_size=4", "rollout.mode=async", "rollout.max_staleness=0", "trainer.progress=false",
            "trainer.eval_every=0", f"trainer.runs_dir={tmp_path}", "trainer.run_name=strict",
        ]
    )
    train(config, resolved)
    run_dir = RunDir("strict", tmp_path)
    metrics = {m["step"]: m for m in run_dir.read_metrics()}
    trajectories = read_trajectories(run_dir.trajectories_path(2))
    stale = [t for t in trajectories if any(turn.policy_version < 1 for turn in t.turns)]

    assert metrics[1]["stale_dropped_episodes"] == 0
    assert stale, "step 2's rollout started before update 1, so it holds version-0 turns"
    assert metrics[2]["stale_dropped_episodes"] == len(stale)
    assert metrics[2]["stale_dropped_turns"] == sum(len(t.turns) for t in stale)
    assert all(t.advantages is None for t in stale)  # never trained on
