"""Repair tasks: each QuixBugs program and HumanEvalFix function as a small repository.

A `RepairTask` is everything an episode needs to materialise the repo in a sandbox, check a
submission and prove the task solvable: the buggy files, the reference fix, the test command, and
which files are the tests (restored before the final test run, so editing a test never passes it).

Repo layouts (both run with a bare `python3`, no pytest, see `quixbugs_runner.py`):

- QuixBugs `<name>`: the benchmark's own layout, `python_programs/<name>.py` (buggy),
  `python_testcases/test_<name>.py` + `load_testdata.py` + `node.py`, `json_testcases/<name>.json`
  where the program has JSON cases, and `run_tests.py` (the runner); tests:
  `python3 run_tests.py python_testcases/test_<name>.py`.
- HumanEvalFix `Python/<i>`: `<entry_point>.py` = prompt + buggy solution, `test_<entry_point>.py` =
  `from <entry_point> import *`, the benchmark's `check` and `check(<entry_point>)`; tests:
  `python3 test_<entry_point>.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
QUIXBUGS_PROGRAMS = DATA_DIR / "quixbugs" / "quixbugs_python.jsonl"
QUIXBUGS_SUPPORT = DATA_DIR / "quixbugs" / "quixbugs_support_files.json"
HUMANEVALFIX = DATA_DIR / "humanevalfix" / "humanevalpack_python.jsonl"
RUNNER = Path(__file__).parent / "quixbugs_runner.py"

DATASETS = ("quixbugs", "humanevalfix")

_QUIXBUGS_SUPPORT_KEPT = (
    "python_testcases/load_testdata.py",
    "python_testcases/node.py",
    "python_programs/node.py",
)
"""The benchmark's helper files the buggy repo needs; its pytest `conftest.py` and the
`correct_python_programs/` copy (the answer) stay out of the sandbox."""


@dataclass(frozen=True)
class RepairTask:
    """One repair task; `to_payload` / `from_payload` carry it inside a `Task` as plain JSON."""

    task_id: str
    dataset: str
    description: str
    files: Mapping[str, str]
    """Every file of the buggy repo, path relative to the repo root → text."""
    source_files: tuple[str, ...]
    """The files a fix changes: the patch and the state key are computed over these."""
    test_files: tuple[str, ...]
    """Files restored to their original text before the final test run."""
    fix: Mapping[str, str]
    """The reference fix: new text of the source files (for the scripted policy and the tests)."""
    test_command: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "description": self.description,
            "files": dict(self.files),
            "source_files": list(self.source_files),
            "test_files": list(self.test_files),
            "fix": dict(self.fix),
            "test_command": self.test_command,
        }

    @classmethod
    def from_payload(cls, task_id: str, payload: Mapping[str, Any]) -> RepairTask:
        return cls(
            task_id=task_id,
            dataset=payload["dataset"],
            description=payload["description"],
            files=dict(payload["files"]),
            source_files=tuple(payload["source_files"]),
            test_files=tuple(payload["test_files"]),
            fix=dict(payload["fix"]),
            test_command=payload["test_command"],
        )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def quixbugs_tasks() -> list[RepairTask]:
    """The 40 Python QuixBugs programs, in the data file's (alphabetical) order."""
    support = json.loads(QUIXBUGS_SUPPORT.read_text(encoding="utf-8"))
    runner = RUNNER.read_text(encoding="utf-8")
    tasks = []
    for record in _read_jsonl(QUIXBUGS_PROGRAMS):
        name, program = record["name"], record["buggy_path"]
        files = {path: support[path] for path in _QUIXBUGS_SUPPORT_KEPT}
        files |= {
            program: record["buggy_program"],
            record["test_path"]: record["test_file"],
            "run_tests.py": runner,
        }
        if record["json_testcases_path"]:
            files[record["json_testcases_path"]] = record["json_testcases"]
        tests = tuple(path for path in files if path != program and path != "python_programs/node.py")
        tasks.append(
            RepairTask(
                task_id=f"quixbugs-{name}",
                dataset="quixbugs",
                description=f"The function `{name}` in {program} has a bug (one line is wrong).",
                files=files,
                source_files=(program,),
                test_files=tests,
                fix={program: record["correct_program"]},
                test_command=f"python3 run_tests.py {record['test_path']}",
            )
        )
    return tasks


def humanevalfix_tasks() -> list[RepairTask]:
    """The 164 HumanEvalFix (HumanEvalPack Python) functions, in task-id order."""
    tasks = []
    for record in _read_jsonl(HUMANEVALFIX):
        entry = record["entry_point"]
        module, test = f"{entry}.py", f"test_{entry}.py"
        test_text = (
            f"from {entry} import *\n\n{record['test']}\n\ncheck({entry})\nprint('all tests passed')\n"
        )
        number = record["task_id"].split("/")[1]
        tasks.append(
            RepairTask(
                task_id=f"humanevalfix-{number}",
                dataset="humanevalfix",
                description=f"The function `{entry}` in {module} has a bug; its docstring says what it should do.",
                files={module: record["prompt"] + record["buggy_solution"], test: test_text},
                source_files=(module,),
                test_files=(test,),
                fix={module: record["prompt"] + record["canonical_solution"]},
                test_command=f"python3 {test}",
            )
        )
    return tasks


def load_tasks(datasets: Sequence[str]) -> list[RepairTask]:
    """The tasks of the named datasets, in the order given."""
    unknown = [name for name in datasets if name not in DATASETS]
    if unknown or not datasets:
        raise ValueError(
            f"swe datasets must be a non-empty list of {', '.join(DATASETS)}; got {list(datasets)}"
        )
    loaders = {"quixbugs": quixbugs_tasks, "humanevalfix": humanevalfix_tasks}
    return [task for name in dict.fromkeys(datasets) for task in loaders[name]()]


def split_tasks(tasks: Sequence[RepairTask], eval_every: int) -> dict[str, list[RepairTask]]:
    """A fixed partition: every `eval_every`-th task of each dataset (the last of each block) is
    held out for evaluation, so both splits mix the datasets and never change between runs."""
    if eval_every < 2:
        raise ValueError(f"eval_every must be >= 2 (1 would leave no training task), got {eval_every}")
    position: dict[str, int] = {}
    splits: dict[str, list[RepairTask]] = {"train": [], "eval": []}
    for task in tasks:
        index = position[task.dataset] = position.get(task.dataset, -1) + 1
        splits["eval" if index % eval_every == eval_every - 1 else "train"].append(task)
    return splits
