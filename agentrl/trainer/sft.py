"""Supervised fine-tuning on successful episodes: an expert's demonstrations, or a run's own successes.

The episodes are trajectories like any rollout's: demonstrations are played through the rollout
machinery (`agentrl.rollout.demonstrations`), so their token ids are what a rollout holds, and a run's
stored trajectories already are (rejection-sampling fine-tuning: `sft.from_run`). The run is built by
`agentrl train`'s own `build_run` (model, chat context, learner, policy, run directory, resume), trains
with `Learner.supervised_update` (NLL of the action tokens, same packing), and checkpoints, evaluates,
reports and writes `final/` (model and tokenizer, a Hugging Face directory that `model=hf model.path=`
loads) the way the train loop does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import asdict
from pathlib import Path

from agentrl.errors import ConfigError
from agentrl.infra import releasing
from agentrl.learner.checkpoint import save_checkpoint
from agentrl.learner.weight_sync import sync_weights
from agentrl.rollout.demonstrations import record_demonstrations
from agentrl.store.trajectory_json import read_trajectories
from agentrl.tracking import open_writers
from agentrl.trainer.config import TrainConfig
from agentrl.trainer.evaluate import evaluate
from agentrl.trainer.loop import build_run, next_tasks
from agentrl.trainer.loop_state import TrainingRun
from agentrl.trainer.progress import StepReporter
from agentrl.types import Trajectory

logger = logging.getLogger(__name__)


def demonstration_episodes(run: TrainingRun) -> list[Trajectory]:
    """The successful demonstrations of the first `sft.demos` train tasks, recorded with the run's chat
    context and episode limits."""
    tasks = next_tasks(run.spec, 0, run.config.sft.demos)
    try:
        recorded = asyncio.run(record_demonstrations(run.spec, run.config.env.name, tasks, run.chat, run.rollout.limits))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    kept = [t for t in recorded if t.success and t.failure is None]
    for failed in (t for t in recorded if not (t.success and t.failure is None)):
        logger.warning("demonstration of %s did not succeed (%s): left out", failed.task_id, failed.error or failed.termination)
    logger.info("%d tasks, %d demonstrations, %d succeeded", len(tasks), len(recorded), len(kept))
    return kept


def run_successes(run_dir: Path, env_name: str, vocabulary_size: int) -> list[Trajectory]:
    """Every successful, untruncated episode stored in `run_dir/trajectories/`, checked against the model
    (same environment, token ids inside its vocabulary)."""
    files = sorted((run_dir / "trajectories").glob("step_*.jsonl"))
    if not files:
        raise ConfigError(f"sft.from_run={run_dir}: no trajectories/step_*.jsonl in it (was trainer.save_trajectories on?)")
    episodes = [t for path in files for t in read_trajectories(path) if t.success and t.failure is None]
    other_envs = sorted({t.env_name for t in episodes} - {env_name})
    if other_envs:
        raise ConfigError(f"sft.from_run={run_dir} holds episodes of {', '.join(other_envs)}, not env={env_name}")
    largest = max((i for t in episodes for turn in t.turns for i in turn.observation_ids + turn.action_ids), default=-1)
    if largest >= vocabulary_size:
        raise ConfigError(
            f"sft.from_run={run_dir}: token id {largest} is outside the model's vocabulary of {vocabulary_size}; "
            "fine-tune the model that sampled them (model=hf model.path=<run>/final)"
        )
    return episodes


def step_batch(episodes: list[Trajectory], step: int, per_step: int, seed: int) -> tuple[int, list[Trajectory]]:
    """(epoch, episodes) of learner step `step` (from 1): each epoch visits every episode once, in an
    order drawn from (seed, epoch), so a resumed run trains on the same batches."""
    steps_per_epoch = math.ceil(len(episodes) / per_step)
    epoch, position = divmod(step - 1, steps_per_epoch)
    order = list(range(len(episodes)))
    random.Random(f"sft:{seed}:{epoch}").shuffle(order)
    return epoch + 1, [episodes[i] for i in order[position * per_step : (position + 1) * per_step]]


def sft(config: TrainConfig, resolved_yaml: str) -> TrainingRun:
    if config.learner.fsdp:
        raise ConfigError("agentrl sft runs in one process: learner.fsdp=true is not supported")
    run = build_run(config, resolved_yaml)
    with releasing(run.spec), releasing(run.policy):
        if config.sft.from_run is None:
            episodes = demonstration_episodes(run)
        else:
            episodes = run_successes(Path(config.sft.from_run), config.env.name, len(run.chat.tokenizer))
        if not episodes:
            raise ConfigError("no successful episodes to train on (see the warnings above)")
        per_step = config.sft.episodes_per_step
        total_steps = config.sft.epochs * math.ceil(len(episodes) / per_step)
        run.learner.total_steps = total_steps  # the lr schedule spans the SFT steps, not trainer.steps
        writers = open_writers(config.trainer.loggers, run.run_dir.path, config.trainer.run_name, asdict(config))
        reporter = StepReporter(total_steps, run.step, enabled=config.trainer.progress)
        eval_every = config.trainer.eval_every
        with writers, reporter:
            reporter.note(f"sft on {len(episodes)} successful episodes: {total_steps} steps")
            if run.step == 0 and eval_every:
                baseline = evaluate(run, config.trainer.eval_tasks)
                run.run_dir.append_metrics(0, baseline)
                reporter.note(f"step    0 | eval success {baseline['eval_success_rate']:.2f} (initial policy)")
            while run.step < total_steps:
                step = run.step + 1
                epoch, batch = step_batch(episodes, step, per_step, config.trainer.seed)
                metrics: dict[str, float] = run.learner.supervised_update(batch) | {"epoch": float(epoch)}
                sync_weights(run.policy, run.full_model, step, config.learner.weight_sync_timeout_s)
                run.step = step
                if eval_every and (step % eval_every == 0 or step == total_steps):
                    metrics |= evaluate(run, config.trainer.eval_tasks)
                run.run_dir.append_metrics(step, metrics)
                writers.log(step, metrics)
                reporter.progress.update(reporter.task, completed=step)
                reporter.note(
                    f"step {step:>4} | epoch {epoch} | nll {metrics['loss']:.4f} | grad {metrics['grad_norm']:.3f}"
                    + (f" | eval success {metrics['eval_success_rate']:.2f}" if "eval_success_rate" in metrics else "")
                )
                if step % config.trainer.save_every == 0 or step == total_steps:
                    save_checkpoint(
                        run.run_dir.checkpoints_dir, step, run.full_model, run.learner.optimizer,
                        {"task_cursor": 0, "policy_version": run.policy.version, "learner": run.learner.state_dict()}, keep=config.trainer.keep_checkpoints,
                    )
    final_dir = run.run_dir.path / "final"
    run.full_model.save_pretrained(final_dir)
    run.chat.tokenizer.save_pretrained(final_dir)
    return run
