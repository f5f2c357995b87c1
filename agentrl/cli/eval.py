"""`agentrl eval env=<name> model=<tiny|hf|RUN_DIR|HF_DIR> [split=eval] [tasks=64] [episodes=1] [greedy=false] [out=DIR] [key=value ...]`

Runs the policy without training: the same sampled episodes as in-training evaluation (same seeds),
`episodes` per task at `model.temperature`, or one greedy (most likely token) episode per task with
`greedy=true` (hf backend). The summary has success, the format-failure share of turns, mean turns
and pass@k for k = 1, 2, 4, ... up to `episodes` (the unbiased estimator of Chen et al. 2021). Written as `DIR/trajectories/step_000000.jsonl` (so `agentrl replay DIR` shows them) with a summary in
`DIR/eval_summary.json`. `model=runs/<name>` evaluates that run's `final/` model; any other directory
with a `config.json` is loaded as a Hugging Face checkpoint. The rest are `agentrl train` overrides.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrl.env.registry import EnvLoadError, EnvParamsError, UnknownEnvError
from agentrl.errors import ConfigError
from agentrl.policy.packaged import PackagedModelMissing
from agentrl.store.trajectory_json import write_text_atomic
from agentrl.trainer.config import load_config
from agentrl.types import Trajectory

EVAL_KEYS = {"split": "eval", "tasks": "64", "episodes": "1", "greedy": "false", "out": ""}
TRAILING_INDEX = re.compile(r"[-_:]?\d+$")


def split_arguments(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Separate the eval options from the hydra overrides, and turn `model=<directory>` into
    `model=hf model.path=<its checkpoint>`."""
    options, overrides = dict(EVAL_KEYS), []
    for argument in argv:
        key, sep, value = argument.partition("=")
        if sep and key in EVAL_KEYS:
            options[key] = value
        elif sep and key == "model" and ("/" in value or Path(value).is_dir()):
            overrides += [
                "model=hf",
                f"model.path={checkpoint_dir(Path(value))}",
                *sampling_overrides(Path(value)),
            ]
        else:
            overrides.append(argument)
    return options, overrides


def checkpoint_dir(path: Path) -> Path:
    """A run directory's `final/` model, or the directory itself when it is a checkpoint."""
    if (path / "final" / "config.json").is_file():
        return path / "final"
    if (path / "config.json").is_file():
        return path
    raise ConfigError(
        f"model={path}: not a run directory with final/ nor a Hugging Face checkpoint (no config.json); "
        "training checkpoints (checkpoints/step_N/) hold raw weights: evaluate the run's final/ instead"
    )


def sampling_overrides(run_path: Path) -> list[str]:
    """A run samples with its own reply length and temperature (the tiny model acts in one token);
    the `hf` preset's defaults would change what the policy does. Later overrides still win."""
    config_path = run_path / "config.yaml"
    if not config_path.is_file():
        return []
    from omegaconf import OmegaConf

    model = OmegaConf.load(config_path).get("model", {})
    return [f"model.{key}={model[key]}" for key in ("max_new_tokens", "temperature") if key in model]


def task_type(trajectory: Trajectory) -> str:
    """The environment's `task_type` on the last step, else the task id without its index."""
    last = trajectory.turns[-1].result if trajectory.turns else None
    if last is not None and last.task_type is not None:
        return last.task_type
    return TRAILING_INDEX.sub("", trajectory.task_id) or trajectory.task_id


def summarise(trajectories: list[Trajectory]) -> dict[str, Any]:
    """Success, score, tool use and token counts, overall and per task type."""
    by_type: dict[str, list[Trajectory]] = defaultdict(list)
    for trajectory in trajectories:
        by_type[task_type(trajectory)].append(trajectory)
    return _stats(trajectories) | {
        "per_task_type": {name: _stats(group) for name, group in sorted(by_type.items())}
    }


def _stats(trajectories: list[Trajectory]) -> dict[str, Any]:
    turns = [turn for trajectory in trajectories for turn in trajectory.turns]
    calls = [call for turn in turns if turn.result is not None for call in turn.result.tool_calls]
    return {
        "episodes": len(trajectories),
        "success_rate": statistics.fmean(t.success for t in trajectories) if trajectories else 0.0,
        "score_mean": statistics.fmean(t.outcome_reward for t in trajectories) if trajectories else 0.0,
        "turns_mean": len(turns) / len(trajectories) if trajectories else 0.0,
        "format_failure_rate": sum(turn.failure == "format" for turn in turns) / len(turns) if turns else 0.0,
        "failures": {
            kind: sum(t.failure == kind for t in trajectories) for kind in ("infra", "timeout", "truncated")
        },
        "tool_calls": len(calls),
        "tool_call_errors": sum(not call.ok for call in calls),
        "action_tokens": sum(len(turn.action_ids) for turn in turns),
        "observation_tokens": sum(len(turn.observation_ids) for turn in turns),
    }


def summary_table(summary: dict[str, Any]) -> Table:
    columns = (
        "episodes",
        "success_rate",
        "score_mean",
        "turns_mean",
        "format_failure_rate",
        "tool_calls",
        "tool_call_errors",
        "action_tokens",
        "observation_tokens",
    )
    table = Table("task type", *columns, title="agentrl eval")
    rows = [("all", summary)] + list(summary["per_task_type"].items())
    for name, stats in rows:
        table.add_row(
            name, *(f"{stats[c]:.3f}" if isinstance(stats[c], float) else str(stats[c]) for c in columns)
        )
    return table


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    console = Console(stderr=True, soft_wrap=True)
    try:
        options, overrides = split_arguments(argv)
        tasks, episodes = int(options["tasks"]), int(options["episodes"])
        if tasks < 1 or episodes < 1:
            raise ConfigError(f"tasks={tasks} and episodes={episodes} must be positive")
        if options["greedy"] not in ("true", "false"):
            raise ConfigError(f"greedy={options['greedy']!r}: choose true or false")
        greedy = options["greedy"] == "true"
        if greedy and episodes != 1:
            raise ConfigError(f"greedy=true gives the same episode every time: use episodes=1, not {episodes}")
        config, _ = load_config(overrides)
        out = Path(
            options["out"] or Path(config.trainer.runs_dir) / f"eval-{config.env.name}-{options['split']}"
        )
        summary = run_eval(overrides, options["split"], tasks, episodes, out, greedy)
    except (ConfigError, UnknownEnvError, EnvLoadError, EnvParamsError, PackagedModelMissing, ValueError) as error:
        console.print(f"[red]agentrl eval:[/red] {error}", highlight=False)
        return 2
    output = Console()
    (output if output.is_terminal else Console(width=160)).print(summary_table(summary))
    passes = ", ".join(f"pass@{k} {value:.3f}" for k, value in summary["pass_at_k"].items())
    output.print(f"{summary['decoding']}, {episodes} episode(s) per task: {passes}", highlight=False)
    console.print(
        f"trajectories and eval_summary.json in {out} (view them: agentrl replay {out})", highlight=False
    )
    return 0


def pass_at_k_values(trajectories: list[Trajectory], episodes: int) -> dict[str, float]:
    """pass@k for k = 1, 2, 4, ... and `episodes` itself (the most a task's attempts allow)."""
    from agentrl.trainer.evaluate import mean_pass_at_k

    ks = sorted({2**power for power in range(episodes.bit_length()) if 2**power <= episodes} | {episodes})
    return {str(k): mean_pass_at_k(trajectories, k) for k in ks}


def run_eval(
    overrides: list[str], split: str, tasks: int, episodes: int, out: Path, greedy: bool = False
) -> dict[str, Any]:
    """Build the policy as `agentrl train` would (no update is ever made), sample, write, summarise."""
    from agentrl.infra import releasing
    from agentrl.policy.hf import HFPolicy
    from agentrl.trainer.evaluate import eval_episodes
    from agentrl.trainer.loop import build_run

    out = out.resolve()
    config, resolved = load_config(
        overrides + [f"trainer.runs_dir={out.parent}", f"trainer.run_name={out.name}", "trainer.resume=false"]
    )
    run = build_run(config, resolved)
    if split not in ("train", "eval"):
        raise ConfigError(f"split={split!r}: choose train or eval")
    if greedy:
        if not isinstance(run.policy, HFPolicy):
            raise ConfigError(f"greedy=true needs model.backend=hf, not {config.model.backend}")
        run.policy.greedy = True
    started = time.monotonic()
    with releasing(run.spec):
        trajectories = eval_episodes(
            run.spec,
            config.env.name,
            run.chat,
            run.policy,
            run.rollout,
            config.trainer.seed,
            run.step,
            tasks,
            split=split,
            episodes_per_task=episodes,
        )
    run.run_dir.write_step_trajectories(0, trajectories)
    run.chat.tokenizer.save_pretrained(out / "tokenizer")
    summary = {
        "split": split,
        "model": config.model.path or config.model.packaged or "tiny (random init)",
        "decoding": "greedy" if greedy else f"sampled at temperature {config.model.temperature}",
        "wall_s": round(time.monotonic() - started, 1),
        "pass_at_k": pass_at_k_values(trajectories, episodes),
    } | summarise(trajectories)
    write_text_atomic(out / "eval_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
