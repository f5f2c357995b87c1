"""Mini-batches change learning: GiGPO on frozenlake with learner.mini_batches 1 vs 4 (3 seeds), same data.

Each (mini_batches, seed) is one real `agentrl train` run (a subprocess, one after another: 2 cores give no
room for parallel runs) with `algo=gigpo model=tiny env=frozenlake`; only `learner.mini_batches` and
`trainer.seed` change, so every setting sees the same number of environment steps per training step and
differs only in how many optimizer steps it takes on each batch (π_old fixed before the first). The run
reading, the std over seeds and the resume-a-finished-run rule are `bench/repro_gigpo.py`'s.

Reported: held-out evaluation success after the last step (mean ± std over seeds, and per seed), the
training success of the last step, the environment steps played (turns), and the mean approx-KL k3 and
clip fraction of the update, so the table shows both what the extra steps do to the policy and to the
outcome.

    python bench/mini_batches.py                       # mini_batches 1 and 4, seeds 0 1 2, 6 steps
    python bench/mini_batches.py --mini-batches 1 2 4 --steps 30 --eval-every 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from repro_gigpo import mean_and_spread, read_curve, train_seeded


def train(out: Path, mini_batches: int, seed: int, args: argparse.Namespace) -> None:
    overrides = ["algo=gigpo", "env=frozenlake", f"learner.mini_batches={mini_batches}"]
    train_seeded(out, f"mb{mini_batches}-seed{seed}", seed, args, overrides)


def update_means(metrics_file: Path) -> dict[str, float]:
    """Training success of the last step and the mean drift of the updates over the run."""
    records = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    trained = [r for r in records if "approx_kl_k3" in r]
    return {
        "last_success": trained[-1]["success_rate"],
        "approx_kl_k3": statistics.mean(r["approx_kl_k3"] for r in trained),
        "clip_fraction": statistics.mean(r["clip_fraction"] for r in trained),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mini-batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--eval-every", type=int, default=6)
    parser.add_argument("--eval-tasks", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/mini_batches"))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra overrides for every run")
    args = parser.parse_args()
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval-every (the last step must be evaluated)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = args.out / f"{args.steps}steps"
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        (
            f"| mini_batches | held-out success after step {args.steps} (mean ± std) | per seed "
            "| training success, last step | env steps | approx_kl k3 (mean over steps) | clip fraction |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    # Seeds outer, settings inner: a sweep stopped early still holds paired runs of every setting.
    for seed in args.seeds:
        for mini_batches in args.mini_batches:
            metrics_file = out / f"mb{mini_batches}-seed{seed}" / "metrics.jsonl"
            if read_curve(metrics_file, args.steps) is None:
                train(out, mini_batches, seed, args)
    for mini_batches in args.mini_batches:
        finals, last, played, drift, clipped = [], [], [], [], []
        for seed in args.seeds:
            metrics_file = out / f"mb{mini_batches}-seed{seed}" / "metrics.jsonl"
            curve = read_curve(metrics_file, args.steps)
            if curve is None:
                raise RuntimeError(f"{metrics_file} has no evaluation at step {args.steps} after training")
            means = update_means(metrics_file)
            finals.append(curve.success[-1])
            played.append(curve.env_steps[-1])
            last.append(means["last_success"])
            drift.append(means["approx_kl_k3"])
            clipped.append(means["clip_fraction"])
        lines.append(
            f"| {mini_batches} | {mean_and_spread(finals)} | {', '.join(f'{v:.2f}' for v in finals)} "
            f"| {mean_and_spread(last)} | {statistics.mean(played):.0f} | {statistics.mean(drift):.4f} "
            f"| {statistics.mean(clipped):.3f} |"
        )
    report = "\n".join(lines)
    print(report)
    (out / "table.md").write_text(report + "\n")
    print(f"\ntable: {out / 'table.md'}")


if __name__ == "__main__":
    main()
