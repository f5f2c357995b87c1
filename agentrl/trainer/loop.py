"""The training loop: rollout → credit → learn → record, one step at a time.

Synchronous by default: the rollout of step k uses exactly the weights after update k−1
(`policy_version` = k−1), so the data is on-policy and the learner's recomputed log-probs equal the
behaviour log-probs. With `rollout.mode=async` the rollout of step k+1 runs in a background thread
while the learner trains on step k, sampling from a copy of the weights that `sync_weights` refreshes
after every update; turns keep their version, and `rollout.max_staleness` bounds how old they may be.
A resumed async run restarts the pipeline (its first step samples on-policy). Everything a resumed run needs (weights, optimizer, RNG, step, task cursor) is
in the checkpoint; metrics and trajectories of steps after the checkpoint are rewritten on resume.

With `learner.fsdp=true` under torchrun this loop runs on rank 0 only, with a `GroupLead` (`lead`) that
takes the other ranks through each update; agentrl/trainer/distributed_loop.py has the protocol.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch

from agentrl.credit import CRITIC_ALGOS, assign_advantages
from agentrl.credit.rewards import RewardPipeline, reward_metrics
from agentrl.env.protocol import EnvSpec
from agentrl.errors import ConfigError
from agentrl.infra import hosted_env_spec, hosted_policy, releasing, shutdown_started
from agentrl.learner.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from agentrl.learner.learner import Learner, policy_loss_for
from agentrl.learner.weight_sync import sync_weights
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.loading import load_model_and_tokenizer
from agentrl.policy.lora import add_adapters, has_adapters, merged_model, save_adapter
from agentrl.policy.placement import place_model, this_machine_placement
from agentrl.registry import PluginLoadError, UnknownNameError
from agentrl.rollout.batcher import BatcherStats
from agentrl.rollout.collect import RolloutSettings, collect_groups
from agentrl.rollout.episode import EpisodeLimits
from agentrl.store.run_dir import RunDir
from agentrl.tracking import open_writers
from agentrl.trainer.config import TrainConfig
from agentrl.trainer.evaluate import evaluate
from agentrl.trainer.filtering import drop_zero_variance_groups
from agentrl.trainer.loop_state import TrainingRun
from agentrl.trainer.metrics import step_metrics
from agentrl.trainer.progress import StepReporter
from agentrl.trainer.staleness import drop_stale
from agentrl.types import Task, Trajectory

if TYPE_CHECKING:
    from agentrl.trainer.distributed_loop import GroupLead

logger = logging.getLogger(__name__)


def build_run(config: TrainConfig, resolved_yaml: str, lead: GroupLead | None = None) -> TrainingRun:
    try:  # first: a misspelt or broken policy-loss plugin fails before any environment or model is built
        policy_loss_for(config.learner)
    except (UnknownNameError, PluginLoadError) as error:
        raise ConfigError(str(error)) from None
    torch.manual_seed(config.trainer.seed)
    spec = hosted_env_spec(config.infra, config.env.name, config.env.params)  # infra=ray: on actors
    try:
        return _assemble_run(config, resolved_yaml, spec, lead)
    except BaseException:
        # What the spec started (env-worker actors, game processes) must not outlive a refusal.
        shutdown_started(spec)
        raise


def _assemble_run(config: TrainConfig, resolved_yaml: str, spec: EnvSpec, lead: GroupLead | None) -> TrainingRun:
    run_dir = RunDir(config.trainer.run_name, config.trainer.runs_dir)
    if run_dir.read_metrics() and not config.trainer.resume:
        raise ConfigError(
            f"run directory {run_dir.path} already holds a run; continue it with trainer.resume=true "
            f"or start another with trainer.run_name=<new name>"
        )
    run_dir.write_config(resolved_yaml)
    model, tokenizer = load_model_and_tokenizer(config.model, spec.vocabulary(), config.trainer.seed)
    if not config.learner.fsdp:  # first, so that every copy below (async sampler, KL reference) is made there
        place_model(model, this_machine_placement(config.model.device, config.model.dtype))
    if config.model.lora.enabled:
        try:
            model = add_adapters(model, config.model.lora)
        except (ImportError, ValueError) as error:  # peft missing, or targets that match no module
            raise ConfigError(str(error)) from None
    chat = ChatContext(tokenizer, spec.system_prompt, tools=getattr(spec, "tools", None))
    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if has_adapters(model):  # the in-process sync sampler shares the module; any other holds base + adapters merged
        in_process = config.infra.name == "local" or config.infra.engines == 0
        shares_model = config.rollout.mode == "sync" and config.model.backend == "hf" and in_process
        sampler = model if shares_model else merged_model(model)
    else:  # async mode samples from its own copy: the learner updates `model` while a rollout runs
        sampler = copy.deepcopy(model) if config.rollout.mode == "async" else model
    if lead is not None:  # the followers start from these weights; the sampler is whole, the learner's sharded
        sampler = lead.start(model, spec.vocabulary(), pad_token_id)
    learner = Learner(
        model, pad_token_id, config.learner, temperature=config.model.temperature,
        critic=config.algo.name in CRITIC_ALGOS, total_steps=config.trainer.steps,
    )
    rollout = RolloutSettings(
        group_size=config.rollout.group_size,
        limits=EpisodeLimits(
            max_turns=spec.max_turns,
            max_context_tokens=config.rollout.max_context_tokens,
            max_new_tokens=config.model.max_new_tokens,
            env_step_timeout_s=config.rollout.env_step_timeout_s,
            episode_timeout_s=config.rollout.episode_timeout_s,
            context_window_turns=config.rollout.context_window_turns if config.rollout.context == "window" else None,
        ),
        max_batch_size=config.rollout.max_batch_size,
        max_wait_s=config.rollout.max_wait_s,
        max_batch_tokens=config.rollout.max_batch_tokens,
        env_workers=config.rollout.env_workers,
    )
    policy = hosted_policy(config.infra, config.model, sampler, pad_token_id, chat)  # last: it may start actors
    run = TrainingRun(config, spec, run_dir, policy, learner, chat, rollout, lead=lead)
    try:
        run.rewards = RewardPipeline.from_config(config.rewards)
        if config.trainer.resume:
            _resume(run)
    except BaseException:
        shutdown_started(policy)  # engine actors must not outlive a refused resume either
        raise
    return run


def _resume(run: TrainingRun) -> None:
    checkpoint = latest_checkpoint(run.run_dir.checkpoints_dir)
    if checkpoint is None:
        # Start over from nothing: the step-0 baseline eval is redone, so its old line goes too.
        run.run_dir.truncate_metrics(-1)
        return
    # A learner group's sharded optimizer is loaded by the lead, from rank 0's copy of the state.
    optimizer = run.learner.optimizer if run.lead is None else None
    state = load_checkpoint(checkpoint, run.full_model, optimizer, run.learner.critic)
    # the lr schedule's position; a checkpoint from before it was saved took one update per step
    run.learner.load_state_dict(state.get("learner", {"updates": int(state["step"])}))
    if run.lead is not None:
        run.lead.restore(run.learner, checkpoint)
    run.step = int(state["step"])
    run.task_cursor = int(state["task_cursor"])
    sync_weights(run.policy, run.full_model, int(state["policy_version"]), run.config.learner.weight_sync_timeout_s)
    run.rewards.load_state_dict(state.get("rewards", {}))
    run.run_dir.truncate_metrics(run.step)


def next_tasks(spec: EnvSpec, cursor: int, count: int) -> list[Task]:
    """Tasks `cursor .. cursor+count−1` of the train split, wrapping around finite task sets."""
    total = spec.num_tasks("train")
    return [spec.task("train", (cursor + i) % total if total else cursor + i) for i in range(count)]


@dataclass(frozen=True)
class StepRollout:
    trajectories: list[Trajectory]
    """Everything sampled this step, every refill round included (metrics and the trajectory file)."""
    trained: list[Trajectory]
    """What the learner gets: `trajectories` itself without a filter, the informative groups with one."""
    generation: BatcherStats
    tasks_used: int
    """How far the task cursor moves: every task sampled, kept or not."""
    filtered_groups: int = 0
    refill_rounds: int = 0


def collect_step(run: TrainingRun, step: int, cursor: int) -> StepRollout:
    """The step's groups, with the configured reward transforms already applied (so the filter
    judges the rewards that will be trained on). With `rollout.filter: zero_variance`, groups without
    reward variance are dropped and new tasks (continuing the cursor) are sampled for the missing
    ones, at most `rollout.max_refill_rounds` times; the step then trains on what it has. Tasks
    start at `cursor` (async mode collects a step before the previous one has moved `run.task_cursor`)."""
    config = run.config
    wanted = config.rollout.tasks_per_step
    trajectories: list[Trajectory] = []
    trained: list[Trajectory] = []
    generations: list[BatcherStats] = []
    sampled, kept_groups, dropped, rounds = 0, 0, 0, 0
    while True:
        tasks = next_tasks(run.spec, cursor + sampled, wanted - kept_groups)
        batch, generation = asyncio.run(
            collect_groups(
                run.spec, config.env.name, tasks, run.chat, run.policy, run.rollout, config.trainer.seed, step,
                first_group=sampled,
            )
        )
        batch, _ = run.rewards.apply(batch)
        sampled += len(tasks)
        trajectories += batch
        generations.append(generation)
        if config.rollout.filter == "none":
            trained, kept_groups = trajectories, wanted
            break
        filtered = drop_zero_variance_groups(batch)
        trained += filtered.kept
        kept_groups, dropped = kept_groups + filtered.kept_groups, dropped + filtered.dropped_groups
        if kept_groups >= wanted or rounds >= config.rollout.max_refill_rounds:
            break
        rounds += 1
    if kept_groups < wanted:
        logger.warning(
            "step %d: %d of %d groups have reward variance after %d refill rounds (rollout.max_refill_rounds); "
            "training on those", step, kept_groups, wanted, rounds,
        )
    merged = BatcherStats(
        batches=sum(g.batches for g in generations),
        requests=sum(g.requests for g in generations),
        generated_tokens=sum(g.generated_tokens for g in generations),
        generate_seconds=sum(g.generate_seconds for g in generations),
        batch_sizes=[size for g in generations for size in g.batch_sizes],
    )
    return StepRollout(trajectories, trained, merged, sampled, filtered_groups=dropped, refill_rounds=rounds)


def next_rollout(run: TrainingRun, step: int) -> StepRollout:
    """What step `step` trains on. Sync mode: collected now. Async mode: the rollout started in the
    background during the previous step (collected now for the first step after start or resume);
    before returning, the rollout of step+1 starts in the background, so it runs while the learner
    trains on this one."""
    pending, run.pending_rollout = run.pending_rollout, None
    rollout = pending.result() if pending is not None else collect_step(run, step, run.task_cursor)
    if run.config.rollout.mode == "async" and step < run.config.trainer.steps:
        if run.rollout_thread is None:
            run.rollout_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentrl-rollout")
        run.pending_rollout = run.rollout_thread.submit(
            collect_step, run, step + 1, run.task_cursor + rollout.tasks_used
        )
    elif run.rollout_thread is not None:  # the last step: nothing more to collect
        run.rollout_thread.shutdown()
        run.rollout_thread = None
    return rollout


def train_step(run: TrainingRun) -> dict[str, object]:
    config = run.config
    step = run.step + 1

    started = time.perf_counter()
    rollout = next_rollout(run, step)
    trajectories, generation = rollout.trajectories, rollout.generation
    rollout_seconds = time.perf_counter() - started

    # The learner has made `run.step` updates: that is the version it trains, whatever sampled.
    fresh = drop_stale(rollout.trained, run.step, config.rollout.max_staleness)
    trained = fresh.kept
    if run.learner.critic is not None:
        run.learner.assign_values(trained)  # V(h_t) of the pre-update critic, read by turn-level GAE
    # Only the trained groups get advantages: a dropped group's file entry then says it was not trained.
    assign_advantages(trained, config.algo.name, **config.algo.params)
    saves_checkpoint = step % config.trainer.save_every == 0 or step == config.trainer.steps
    started = time.perf_counter()
    if run.lead is None:
        learner_stats = run.learner.update(trained)
    else:  # the whole group updates; afterwards run.full_model holds the gathered weights
        learner_stats = run.lead.update(run.learner, trained, with_optimizer=saves_checkpoint)
    learn_seconds = time.perf_counter() - started
    sync_weights(run.policy, run.full_model, step, config.learner.weight_sync_timeout_s)

    run.step, run.task_cursor = step, run.task_cursor + rollout.tasks_used
    if config.trainer.save_trajectories:
        run.run_dir.write_step_trajectories(step, trajectories)
    anchor_options = {k: v for k, v in config.algo.params.items() if k in ("anchor", "history_k")}
    metrics = step_metrics(trajectories, learner_stats, generation, rollout_seconds, learn_seconds, anchor_options)
    metrics |= {"filtered_groups": rollout.filtered_groups, "refill_rounds": rollout.refill_rounds}
    metrics |= {
        "staleness_mean": fresh.staleness_mean,
        "stale_dropped_episodes": fresh.dropped_episodes,
        "stale_dropped_turns": fresh.dropped_turns,
    }
    if run.rewards.transforms:
        metrics |= reward_metrics(trajectories)
    if config.trainer.eval_every and (step % config.trainer.eval_every == 0 or step == config.trainer.steps):
        if run.pending_rollout is not None:  # one tokenizer, used by one thread at a time
            wait([run.pending_rollout])
        metrics |= evaluate(run, config.trainer.eval_tasks)
    run.run_dir.append_metrics(step, metrics)
    if saves_checkpoint:
        save_checkpoint(
            run.run_dir.checkpoints_dir,
            step,
            run.full_model,
            run.learner.optimizer if run.lead is None else run.lead.optimizer_state,
            {"task_cursor": run.task_cursor, "policy_version": run.policy.version, "learner": run.learner.state_dict()}
            | ({"rewards": run.rewards.state_dict()} if run.rewards.transforms else {}),
            keep=config.trainer.keep_checkpoints,
            value_head=run.learner.critic,
        )
    return metrics


def train(config: TrainConfig, resolved_yaml: str, lead: GroupLead | None = None) -> TrainingRun:
    """The whole run; `lead` only on rank 0 of a learner group (`distributed_loop.train_in_group`)."""
    run = build_run(config, resolved_yaml, lead)
    writers = open_writers(config.trainer.loggers, run.run_dir.path, config.trainer.run_name, asdict(config))
    reporter = StepReporter(config.trainer.steps, run.step, enabled=config.trainer.progress)
    # Engines stop before the spec, which may stop a cluster the run started.
    with releasing(run.spec), releasing(run.policy), writers, reporter:
        if run.step == 0 and config.trainer.eval_every:
            baseline = evaluate(run, config.trainer.eval_tasks)
            run.run_dir.append_metrics(0, baseline)
            writers.log(0, baseline)
            reporter.note(f"step    0 | eval success {baseline['eval_success_rate']:.2f} (initial policy)")
        while run.step < config.trainer.steps:
            metrics = train_step(run)
            writers.log(run.step, metrics)
            reporter.report(run.step, metrics)
    final_dir = run.run_dir.path / "final"
    if has_adapters(run.full_model):  # `final/` is a plain merged model for model=hf; the adapters beside it
        merged_model(run.full_model).save_pretrained(final_dir)
        save_adapter(run.full_model, run.run_dir.path / "final_adapter")
    else:
        run.full_model.save_pretrained(final_dir)
    run.chat.tokenizer.save_pretrained(final_dir)
    return run
