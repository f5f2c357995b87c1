"""A tiny-scale reproduction of the GiGPO paper's comparison: methods × seeds on frozenlake, same budget.

Each (method, seed) is one real `agentrl train` run (a subprocess, one after another: 2 cores give no
room for parallel runs) with the same environment, model, step budget and evaluation schedule; only
`algo=` and `trainer.seed=` change. A finished run is never redone: the script reads its
`metrics.jsonl` and moves on, so an interrupted sweep continues where it stopped.

Reported: held-out evaluation success after the last step, mean ± std over seeds, in a table laid out
like the paper's Table 1 (one row per method), the success of every seed, and learning curves
(evaluation success against environment steps, i.e. turns played in training) drawn to a PNG.

    python bench/repro_gigpo.py                                  # 4x4 maps, 60 steps, 3 seeds, 5 methods
    python bench/repro_gigpo.py --size 8 --max-turns 30 --steps 100
    python bench/repro_gigpo.py --methods grpo gigpo_std --seeds 0 1  # a subset
    python bench/repro_gigpo.py --size 8 --max-turns 30 --set rollout.context=window  # 8x8, Markov contexts
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


@dataclass(frozen=True)
class Curve:
    """Evaluation success after each evaluated step, against the environment steps played so far."""

    env_steps: list[int]
    success: list[float]


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
    evaluations = [(r["step"], r["eval_success_rate"]) for r in records if "eval_success_rate" in r]
    if not evaluations or evaluations[-1][0] != steps:
        return None
    return Curve([env_steps_after.get(step, played) for step, _ in evaluations], [s for _, s in evaluations])


def train(out: Path, method: str, seed: int, args: argparse.Namespace) -> None:
    overrides = [
        "env=frozenlake",
        *METHODS[method].overrides,
        "model=tiny",
        f"trainer.seed={seed}",
        f"trainer.steps={args.steps}",
        f"trainer.eval_every={args.eval_every}",
        f"trainer.eval_tasks={args.eval_tasks}",
        f"env.params.size={args.size}",
        f"env.params.max_turns={args.max_turns}",
        f"trainer.runs_dir={out}",
        f"trainer.run_name={method}-seed{seed}",
        "trainer.progress=false",
        "trainer.save_trajectories=false",
        "trainer.resume=true",
        *args.set,
    ]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agentrl.cli.main", "train", *overrides], check=True)
    print(f"  {method} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)


def table(curves: dict[str, list[Curve]], size: int) -> str:
    lines = [
        f"| method | frozenlake {size}x{size} success (mean ± std) | per seed |",
        "|---|---|---|",
    ]
    for method, runs in curves.items():
        finals = [curve.success[-1] for curve in runs]
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        seeds = ", ".join(f"{value:.2f}" for value in finals)
        lines.append(f"| {METHODS[method].label} | {statistics.mean(finals):.3f} ± {spread:.3f} | {seeds} |")
    return "\n".join(lines)


def plot(curves: dict[str, list[Curve]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for method, runs in curves.items():
        points = min(len(curve.success) for curve in runs)
        env_steps = [statistics.mean(curve.env_steps[i] for curve in runs) for i in range(points)]
        means = [statistics.mean(curve.success[i] for curve in runs) for i in range(points)]
        axis.plot(env_steps, means, marker="o", label=METHODS[method].label)
    axis.set_xlabel("environment steps (training turns)")
    axis.set_ylabel("held-out success rate (mean over seeds)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-tasks", type=int, default=64)
    parser.add_argument("--size", type=int, default=4, help="frozenlake map side")
    parser.add_argument("--max-turns", type=int, default=12)
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
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Extra overrides name the directory too, so sweeps with different settings never mix their runs.
    suffix = "".join(f"-{re.sub(r'[^A-Za-z0-9_.]+', '_', override)}" for override in args.set)
    out = args.out / f"{args.size}x{args.size}-{args.steps}steps{suffix}"
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
    report = table(curves, args.size)
    print(report)
    (out / "table.md").write_text(report + "\n")
    plot(curves, out / "curves.png")
    print(f"\ntable: {out / 'table.md'}\ncurves: {out / 'curves.png'}")


if __name__ == "__main__":
    main()
