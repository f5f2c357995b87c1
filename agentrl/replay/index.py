"""Lazy access to the trajectories of a run, so that a run of 100k turns opens in well under 2 s.

Opening a run reads no trajectory at all. The first time a step is shown, its file is scanned once:
each line's offset is kept together with a summary parsed from the line's *head* only (everything
before `"turns"`, which `trajectory_json` always writes last), so the token lists are never parsed
for the episode list. A whole `Trajectory` is parsed when it is selected, from its byte offset.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from agentrl.store.trajectory_json import check_format, trajectory_from_dict
from agentrl.types import Trajectory

STEP_FILE = re.compile(r"step_(\d+)\.jsonl$")
TURNS_KEY = b', "turns": ['
"""Where the head of a record ends. Inside JSON strings a quote is escaped, so this byte sequence
only occurs as the top-level key (metrics values are numbers, never lists)."""
TURN_KEY = b'{"observation_ids": '
LOADED_CACHE_SIZE = 64


@dataclass(frozen=True)
class EpisodeSummary:
    """What the episode list shows and filters on, and where the full record lives."""

    step: int
    position: int
    """0-based index of the episode within its step file (its line among the non-empty lines)."""
    path: Path
    line: int
    offset: int
    length: int
    task_id: str
    group_id: str
    env_name: str
    seed: int
    outcome_reward: float
    success: bool
    failure: str | None
    termination: str
    turns: int
    format_failures: int
    """Turns whose action did not parse: the episode itself usually goes on (failure stays None)."""
    advantage_mean: float | None
    """Mean of the per-turn advantages, or None when none were assigned (not trained on)."""


class RunIndex:
    """The trajectories of a run directory, a `trajectories/` directory or one trajectory file."""

    def __init__(self, target: str | Path) -> None:
        target = Path(target)
        if not target.exists():
            raise FileNotFoundError(
                f"{target} does not exist; give a run directory or a trajectory .jsonl file"
            )
        if target.is_file():
            self.run_path = target.parent.parent if target.parent.name == "trajectories" else target.parent
            self.files = {_step_of(target, default=0): target}
        else:
            directory = target / "trajectories" if (target / "trajectories").is_dir() else target
            self.run_path = target if directory != target else target.parent
            self.files = {
                int(match.group(1)): path
                for path in sorted(directory.iterdir())
                if (match := STEP_FILE.search(path.name)) is not None
            }
            if not self.files:
                raise FileNotFoundError(
                    f"{target} holds no trajectory files (trajectories/step_NNNNNN.jsonl); "
                    "was the run started with trainer.save_trajectories=false?"
                )
        self.steps: list[int] = sorted(self.files)
        self._summaries: dict[int, list[EpisodeSummary]] = {}
        self._loaded: OrderedDict[tuple[Path, int], Trajectory] = OrderedDict()
        self.config = self._read_config()

    def _read_config(self) -> dict[str, Any]:
        """The run's resolved `config.yaml` (algorithm and its parameters), or {} without one."""
        path = self.run_path / "config.yaml"
        if not path.is_file():
            return {}
        container = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        return container if isinstance(container, dict) else {}

    @property
    def algo(self) -> tuple[str | None, dict[str, Any]]:
        algo = self.config.get("algo") or {}
        return algo.get("name"), dict(algo.get("params") or {})

    def episodes(self, step: int | None = None) -> list[EpisodeSummary]:
        """The episodes of `step`, or of every step when `step` is None (scanning files on first use)."""
        if step is None:
            return [summary for each in self.steps for summary in self.episodes(each)]
        if step not in self.files:
            raise KeyError(f"step {step} has no trajectory file; steps: {_ranges(self.steps)}")
        if step not in self._summaries:
            self._summaries[step] = _scan(self.files[step], step)
        return self._summaries[step]

    def load(self, summary: EpisodeSummary) -> Trajectory:
        """The full trajectory of `summary`, parsed from its offset (recently used ones are cached)."""
        key = (summary.path, summary.offset)
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        with summary.path.open("rb") as file:
            file.seek(summary.offset)
            raw = file.read(summary.length)
        try:
            trajectory = trajectory_from_dict(json.loads(raw))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{summary.path}:{summary.line}: {error}") from error
        self._loaded[key] = trajectory
        if len(self._loaded) > LOADED_CACHE_SIZE:
            self._loaded.popitem(last=False)
        return trajectory

    def group(self, summary: EpisodeSummary) -> list[tuple[EpisodeSummary, Trajectory]]:
        """Every episode sampled in the same group (same task, seed and step) as `summary`, in file order."""
        members = [each for each in self.episodes(summary.step) if each.group_id == summary.group_id]
        return [(member, self.load(member)) for member in members]


def _scan(path: Path, step: int) -> list[EpisodeSummary]:
    data = path.read_bytes()
    summaries: list[EpisodeSummary] = []
    offset, line = 0, 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end
        line += 1
        if end > offset and not data[offset:end].isspace():
            summaries.append(_summarise(data[offset:end], path, line, offset, step, len(summaries)))
        offset = end + 1
    return summaries


def _summarise(record: bytes, path: Path, line: int, offset: int, step: int, position: int) -> EpisodeSummary:
    head_end = record.find(TURNS_KEY)
    try:
        if head_end < 0:
            raise ValueError("no 'turns' list: not an agentrl trajectory record (or a torn line)")
        head = json.loads(record[:head_end] + b"}")
        check_format(head.get("format"))
        advantages = head["advantages"]
        return EpisodeSummary(
            step=step,
            position=position,
            path=path,
            line=line,
            offset=offset,
            length=len(record),
            task_id=head["task_id"],
            group_id=head["group_id"],
            env_name=head["env_name"],
            seed=head["seed"],
            outcome_reward=float(head["outcome_reward"]),
            success=bool(head["metrics"].get("success", 0.0)),
            failure=head["failure"],
            termination=head["termination"],
            turns=record.count(TURN_KEY, head_end),
            format_failures=int(head["metrics"].get("format_failures", 0)),
            advantage_mean=sum(advantages) / len(advantages) if advantages else None,
        )
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{line}: not a JSON trajectory record ({error.msg})") from error
    except KeyError as missing:
        raise ValueError(f"{path}:{line}: trajectory record lacks field {missing.args[0]!r}") from None
    except ValueError as error:
        raise ValueError(f"{path}:{line}: {error}") from error


def _step_of(path: Path, default: int) -> int:
    match = STEP_FILE.search(path.name)
    return int(match.group(1)) if match else default


def _ranges(steps: list[int]) -> str:
    return f"{steps[0]}..{steps[-1]} ({len(steps)} files)" if steps else "none"
