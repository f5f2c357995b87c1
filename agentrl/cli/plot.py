"""`agentrl plot RUN [--out FILE.png] [--smooth N]`: the main curves of a run, from its metrics.jsonl.

For people who would rather look than read: success (train and held-out eval), reward, loss,
entropy, invalid-action rate, gradient norm and step time, one panel each, as one PNG (default
`RUN/curves.png`). Panels whose metric the run never logged are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("success", ("success_rate", "eval_success_rate")),
    ("reward", ("reward_mean", "eval_reward_mean")),
    ("loss", ("loss",)),
    ("entropy", ("entropy",)),
    ("invalid actions", ("format_failure_rate",)),
    ("grad norm", ("grad_norm",)),
    ("seconds per step", ("time_step_s", "time_generate_s", "time_learn_s")),
)


def read_metrics(run_path: Path) -> list[dict[str, Any]]:
    """The run's metric lines; a missing run or file is an error a person can act on."""
    from agentrl.store.run_dir import RunDir

    if not run_path.is_dir():
        raise FileNotFoundError(f"{run_path} is not a run directory")
    if not (run_path / "metrics.jsonl").is_file():
        raise FileNotFoundError(f"{run_path} has no metrics.jsonl: has the run finished a step yet?")
    records = RunDir(run_path.name, run_path.parent).read_metrics()
    if not records:
        raise ValueError(f"{run_path}/metrics.jsonl holds no complete step yet")
    return records


def series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric over the steps that logged it (eval metrics every N steps only)."""
    points = [(r["step"], float(r[key])) for r in records if isinstance(r.get(key), (int, float))]
    return [step for step, _ in points], [value for _, value in points]


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to `window` points, so noisy per-step curves show their trend."""
    return [
        sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
        for i in range(len(values))
    ]


def plot(records: list[dict[str, Any]], out: Path, title: str, smooth: int) -> list[str]:
    """Draw the panels to `out`; returns the titles of the panels drawn."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    panels = [(name, [k for k in keys if series(records, k)[0]]) for name, keys in PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not panels:
        raise ValueError(
            "metrics.jsonl has none of the plotted metrics: " + ", ".join(k for _, ks in PANELS for k in ks)
        )
    columns = 2
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(11, 3 * rows), squeeze=False)
    for axis, (name, keys) in zip(axes.flat, panels):
        for key in keys:
            steps, values = series(records, key)
            is_eval = key.startswith("eval_")
            line = moving_average(values, smooth) if smooth > 1 and not is_eval else values
            axis.plot(steps, line, marker="o" if is_eval else None, markersize=3, label=key)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title + (f" (train curves: moving average of {smooth} steps)" if smooth > 1 else ""))
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return [name for name, _ in panels]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentrl plot", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run directory (runs/<name>)")
    parser.add_argument("--out", type=Path, default=None, help="PNG file to write (default RUN/curves.png)")
    parser.add_argument(
        "--smooth", type=int, default=10, help="moving-average window of train curves (1: raw)"
    )
    args = parser.parse_args(argv)
    try:
        if args.smooth < 1:
            raise ValueError(f"--smooth {args.smooth}: the window must be at least 1")
        out = args.out or args.run / "curves.png"
        drawn = plot(read_metrics(args.run), out, args.run.name, args.smooth)
    except (FileNotFoundError, ValueError) as error:
        print(f"agentrl plot: {error}", file=sys.stderr)
        return 2
    print(f"{out}: {', '.join(drawn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
