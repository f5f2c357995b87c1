"""A tiny-scale reproduction of the GiGPO paper's comparison: methods × seeds, same budget.

Each (method, seed) is one real `agentrl train` run (a subprocess, one after another: 2 cores give no
room for parallel runs) with the same environment, model, step budget and evaluation schedule; only
`algo=` and `trainer.seed=` change. A finished run is never redone: the script reads its
`metrics.jsonl` and moves on, so an interrupted sweep continues where it stopped.

Environments (`--env`): frozenlake (the default; `--size`, `--max-turns`) and webshop, played in its
indexed-action format (`env.params.action_format=index`, the plain page prompt): `model=tiny` answers
with one token, so it can pick a listed action by number but cannot spell `search[...]`. WebShop's
default turn limit here is 8: the expert needs 4-6 turns (search, product, up to 3 options, buy), and
every turn costs a forward pass over a ~200-word page on 2 cores.

Reported: held-out evaluation success and mean reward (WebShop's score when the episode buys, else the
invalid-action penalties) after the last step, mean ± std over seeds, in a table laid out
like the paper's Table 1 (one row per method), the success of every seed, and learning curves
(evaluation success and reward against environment steps, i.e. turns played in training) drawn to a PNG.

    python bench/repro_gigpo.py                                  # 4x4 maps, 60 steps, 3 seeds, 5 methods
    python bench/repro_gigpo.py --size 8 --max-turns 30 --steps 100
    python bench/repro_gigpo.py --methods grpo gigpo_std --seeds 0 1  # a subset
    python bench/repro_gigpo.py --size 8 --max-turns 30 --set rollout.context=window  # 8x8, Markov contexts
    python bench/repro_gigpo.py --env webshop --steps 16 --eval-every 8 --eval-tasks 32 \
        --set rollout.tasks_per_step=4                           # webshop, indexed actions
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Method:
    label: str
    overrides: tuple[str, ...]


METHODS = {
    "grpo": Method("GRPO", ("algo=grpo",)),
    "rloo": Method("RLOO", ("algo=rloo",)),
    "turn_ppo": Method("PPO (critic, turn-level GAE)", ("algo=turn_ppo",)),
    "gigpo_nostd": Method("GiGPO w/o std", ("algo=gigpo_nostd",)),
    # The gigpo preset itself uses mode=mean (the from-scratch tiny model collapses under std
    # normalisation, docs/cpu-learning.md); the paper's "w/ std" variant is mode=mean_std.
    "gigpo_std": Method("GiGPO w/ std", ("algo=gigpo", "algo.params.mode=mean_std")),
}


DEFAULT_MAX_TURNS = {"frozenlake": 12, "webshop": 8}


@dataclass(frozen=True)
class Curve:
    """Evaluation success and mean reward after each evaluated step, against the environment steps
    played so far."""

    env_steps: list[int]
    success: list[float]
    reward: list[float]


def run_directory(out: Path, method: str, seed: int) -> Path:
    return out / f"{method}-seed{seed}"


def read_curve(metrics_file: Path, steps: int) -> Curve | None:
    """The run's evaluation curve, or None when it did not reach its final evaluation."""
    if not metrics_file.exists():
        return None
    records = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    played = 0
    env_steps_after: dict[int, int] = {0: 0}
    for record in records:
        if "turns_mean" in record:
            played += round(record["turns_mean"] * record["episodes"])
            env_steps_after[record["step"]] = played
    evaluations = [r for r in records if "eval_success_rate" in r]
    if not evaluations or evaluations[-1]["step"] != steps:
        return None
    return Curve(
        [env_steps_after.get(r["step"], played) for r in evaluations],
        [r["eval_success_rate"] for r in evaluations],
        [r["eval_reward_mean"] for r in evaluations],
    )


def env_overrides(args: argparse.Namespace) -> list[str]:
    """The environment and its settings, the same for every method."""
    if args.env == "frozenlake":
        return ["env=frozenlake", f"env.params.size={args.size}", f"env.params.max_turns={args.max_turns}"]
    return [
        "env=webshop",
        "env.params.action_format=index",
        # The page holds the instruction, so the current page alone is the state (configs/env/webshop.yaml
        # already keeps only the current observation); the plain prompt keeps it short.
        "env.params.prompt=plain",
        f"env.params.max_turns={args.max_turns}",
    ]


def env_label(args: argparse.Namespace) -> str:
    """How the table header and the output directory name the environment."""
    if args.env == "frozenlake":
        return f"frozenlake {args.size}x{args.size}"
    return f"webshop (indexed actions, {args.max_turns} turns)"


def train(out: Path, method: str, seed: int, args: argparse.Namespace) -> None:
    train_seeded(out, f"{method}-seed{seed}", seed, args, [*env_overrides(args), *METHODS[method].overrides])


def train_seeded(out: Path, run_name: str, seed: int, args: argparse.Namespace, overrides: list[str]) -> None:
    """One seeded tiny-model `agentrl train` run into `out/run_name`, resumable, with the sweep's step and eval
    budget (`args.steps`, `eval_every`, `eval_tasks`, extra `--set` overrides); prints its wall time."""
    overrides = [
        *overrides,
        "model=tiny",
        f"trainer.seed={seed}",
        f"trainer.steps={args.steps}",
        f"trainer.eval_every={args.eval_every}",
        f"trainer.eval_tasks={args.eval_tasks}",
        f"trainer.runs_dir={out}",
        f"trainer.run_name={run_name}",
        "trainer.progress=false",
        "trainer.save_trajectories=false",
        "trainer.resume=true",
        *args.set,
    ]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agentrl.cli.main", "train", *overrides], check=True)
    print(f"  {run_name}: {time.perf_counter() - started:.0f} s", flush=True)


def mean_and_spread(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def table(curves: dict[str, list[Curve]], label: str) -> str:
    lines = [
        f"| method | {label} success (mean ± std) | per seed | eval reward (mean ± std) |",
        "|---|---|---|---|",
    ]
    for method, runs in curves.items():
        finals = [curve.success[-1] for curve in runs]
        seeds = ", ".join(f"{value:.2f}" for value in finals)
        rewards = mean_and_spread([curve.reward[-1] for curve in runs])
        lines.append(f"| {METHODS[method].label} | {mean_and_spread(finals)} | {seeds} | {rewards} |")
    return "\n".join(lines)


def plot(curves: dict[str, list[Curve]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Success and reward side by side: WebShop's reward (the score) moves long before full success does.
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, metric, ylabel in zip(
        axes, ("success", "reward"), ("held-out success rate", "held-out mean reward")
    ):
        for method, runs in curves.items():
            points = min(len(curve.success) for curve in runs)
            env_steps = [statistics.mean(curve.env_steps[i] for curve in runs) for i in range(points)]
            means = [statistics.mean(getattr(curve, metric)[i] for curve in runs) for i in range(points)]
            axis.plot(env_steps, means, marker="o", label=METHODS[method].label)
        axis.set_xlabel("environment steps (training turns)")
        axis.set_ylabel(f"{ylabel} (mean over seeds)")
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-tasks", type=int, default=64)
    parser.add_argument("--env", choices=list(DEFAULT_MAX_TURNS), default="frozenlake")
    parser.add_argument("--size", type=int, default=None, help="frozenlake map side (default 4)")
    parser.add_argument(
        "--max-turns", type=int, default=None, help="turn limit (default: frozenlake 12, webshop 8)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/repro_gigpo"))
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra overrides for every run (same for all methods)",
    )
    args = parser.parse_args()
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval-every (the last step must be evaluated)")
    if args.env != "frozenlake" and args.size is not None:
        parser.error(f"--size is the frozenlake map side; --env {args.env} has no maps (drop --size)")
    args.size = 4 if args.size is None else args.size
    args.max_turns = args.max_turns or DEFAULT_MAX_TURNS[args.env]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Extra overrides name the directory too, so sweeps with different settings never mix their runs.
    suffix = "".join(f"-{re.sub(r'[^A-Za-z0-9_.]+', '_', override)}" for override in args.set)
    setting = (
        f"{args.size}x{args.size}" if args.env == "frozenlake" else f"webshop-index-{args.max_turns}turns"
    )
    out = args.out / f"{setting}-{args.steps}steps{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, list[Curve]] = {}
    for method in args.methods:
        for seed in args.seeds:
            metrics_file = run_directory(out, method, seed) / "metrics.jsonl"
            if read_curve(metrics_file, args.steps) is None:
                train(out, method, seed, args)
            curve = read_curve(metrics_file, args.steps)
            if curve is None:
                raise RuntimeError(f"{metrics_file} has no evaluation at step {args.steps} after training")
            curves.setdefault(method, []).append(curve)
    report = table(curves, env_label(args))
    print(report)
    (out / "table.md").write_text(report + "\n")
    plot(curves, out / "curves.png")
    print(f"\ntable: {out / 'table.md'}\ncurves: {out / 'curves.png'}")


if __name__ == "__main__":
    main()
