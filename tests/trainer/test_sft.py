"""`agentrl sft` on the tiny model: a real, seeded, short run that must lower the demonstrations' NLL and
raise frozenlake success on the demonstrated tasks; its final/ loads as `model=hf`; RFT from a run."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest
import torch
from agentrl.environments.frozenlake import FrozenLake

from agentrl.cli.sft import expand_shorthands
from agentrl.errors import ConfigError
from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.backends import build_policy
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.loading import load_checkpoint_dir, load_model_and_tokenizer
from agentrl.rollout.collect import RolloutSettings
from agentrl.rollout.demonstrations import record_demonstrations
from agentrl.rollout.episode import EpisodeLimits
from agentrl.store.run_dir import RunDir
from agentrl.trainer.config import TrainConfig, load_config
from agentrl.trainer.evaluate import eval_episodes
from agentrl.trainer.loop import build_run
from agentrl.trainer.sft import sft

DEMOS = 32


def sft_config(runs_dir: Path, *overrides: str) -> tuple[TrainConfig, str]:
    return load_config(
        expand_shorthands(
            ["env=frozenlake", "model=tiny", f"demos={DEMOS}", "sft.epochs=4", "trainer.progress=false",
             f"trainer.runs_dir={runs_dir}", *overrides]
        ),
        config_name="sft",
    )


def limits(config: TrainConfig) -> EpisodeLimits:
    return EpisodeLimits(FrozenLake().max_turns, config.rollout.max_context_tokens, config.model.max_new_tokens)


def demo_nll_and_success(config: TrainConfig, model, tokenizer) -> tuple[float, float]:
    """Mean NLL of the demonstrations' action tokens, and sampled success on their tasks."""
    spec = FrozenLake()
    chat = ChatContext(tokenizer, spec.system_prompt)
    rollout = RolloutSettings(group_size=1, limits=limits(config))
    tasks = [spec.task("train", i) for i in range(DEMOS)]
    demos = asyncio.run(record_demonstrations(spec, "frozenlake", tasks, chat, rollout.limits))
    logprobs = Learner(model, tokenizer.pad_token_id, LearnerSettings()).action_logprobs(demos)
    nll = -statistics.fmean(lp for trajectory in logprobs for turn in trajectory for lp in turn)
    policy = build_policy(config.model, model, tokenizer.pad_token_id, chat)
    episodes = eval_episodes(spec, "frozenlake", chat, policy, rollout, 0, 0, DEMOS, split="train", episodes_per_task=4)
    return nll, statistics.fmean(t.success for t in episodes)


def test_sft_lowers_the_demonstrations_nll_and_raises_success_on_their_tasks(tmp_path: Path) -> None:
    config, resolved = sft_config(tmp_path)
    before = demo_nll_and_success(config, *load_model_and_tokenizer(config.model, FrozenLake().vocabulary(), 0))
    run = sft(config, resolved)
    metrics = run.run_dir.read_metrics()
    assert [m["step"] for m in metrics] == list(range(1, 4 * DEMOS // 8 + 1))
    assert metrics[-1]["loss"] < 0.6 * metrics[0]["loss"]
    after = demo_nll_and_success(config, *load_checkpoint_dir(run.run_dir.path / "final"))
    assert after[0] < 0.6 * before[0], (before, after)
    assert after[1] >= before[1] + 0.25, (before, after)


def test_the_final_directory_is_what_model_hf_trains(tmp_path: Path) -> None:
    config, resolved = sft_config(tmp_path, "demos=8", "sft.epochs=1", "trainer.run_name=small")
    final = sft(config, resolved).run_dir.path / "final"
    hf, _ = load_config(["env=frozenlake", "model=hf", f"model.path={final}", "model.max_new_tokens=1",
                         f"trainer.runs_dir={tmp_path}", "trainer.run_name=rl"])
    run = build_run(hf, "")
    assert run.chat.tokenizer.get_vocab() == load_checkpoint_dir(final)[1].get_vocab()
    assert run.learner.model.config.vocab_size == len(run.chat.tokenizer)


def test_rejection_sampling_fine_tuning_trains_on_a_runs_successful_episodes(tmp_path: Path) -> None:
    config, resolved = sft_config(tmp_path, "demos=8")
    spec = FrozenLake()
    _, tokenizer = load_model_and_tokenizer(config.model, spec.vocabulary(), 0)
    chat = ChatContext(tokenizer, spec.system_prompt)
    tasks = [spec.task("train", i) for i in range(6)]
    episodes = asyncio.run(record_demonstrations(spec, "frozenlake", tasks, chat, limits(config)))
    episodes[0].metrics["success"] = 0.0  # a failed episode is left out
    RunDir("source", tmp_path).write_step_trajectories(1, episodes)

    config, resolved = sft_config(tmp_path, f"from_run={tmp_path / 'source'}", "sft.epochs=1", "trainer.run_name=rft")
    run = sft(config, resolved)
    expected_tokens = sum(len(turn.action_ids) for t in episodes[1:] for turn in t.turns)
    assert [m["trained_tokens"] for m in run.run_dir.read_metrics()] == [float(expected_tokens)]

    config, resolved = sft_config(
        tmp_path, f"from_run={tmp_path / 'source'}", "env=search_qa", "trainer.run_name=wrong-env"
    )
    with pytest.raises(ConfigError, match="not env=search_qa"):
        sft(config, resolved)


def test_a_resumed_sft_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    small = ("demos=16", "trainer.save_every=1")
    straight = sft(*sft_config(tmp_path, *small, "sft.epochs=2", "trainer.run_name=straight"))
    sft(*sft_config(tmp_path, *small, "sft.epochs=1", "trainer.run_name=resumed"))
    resumed = sft(*sft_config(tmp_path, *small, "sft.epochs=2", "trainer.run_name=resumed", "trainer.resume=true"))
    assert [m["step"] for m in resumed.run_dir.read_metrics()] == [1, 2, 3, 4]
    assert [m["loss"] for m in resumed.run_dir.read_metrics()] == [m["loss"] for m in straight.run_dir.read_metrics()]
    for left, right in zip(straight.learner.model.parameters(), resumed.learner.model.parameters(), strict=True):
        assert torch.equal(left, right)


def test_the_lr_schedule_spans_the_sft_steps_not_trainer_steps(tmp_path: Path) -> None:
    """4 SFT steps (16 demos, 2 epochs, 8 a step) under a linear decay: factors 1, 3/4, 1/2, 1/4 of lr,
    though trainer.steps is 300."""
    config, resolved = sft_config(tmp_path, "demos=16", "sft.epochs=2", "learner.lr=0.001", "learner.lr_schedule=linear")
    run = sft(config, resolved)
    assert [m["lr"] for m in run.run_dir.read_metrics()] == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4])


def test_the_command_line_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentrl.cli.sft import main

    assert main(["demos=0", f"trainer.runs_dir={tmp_path}"]) == 2
    assert "sft.demos, sft.epochs and sft.episodes_per_step must be positive" in capsys.readouterr().err
    no_solver = ["env=textarena", "env.params.game=GuessTheNumber-v0", "demos=2", f"trainer.runs_dir={tmp_path}"]
    assert main(no_solver) == 2
    assert "no successful episodes to train on" in capsys.readouterr().err
