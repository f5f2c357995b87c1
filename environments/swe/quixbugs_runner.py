"""Runs one QuixBugs pytest file inside a sandbox that has only a bare `python3`, no pytest.

This file is not imported by agentrl: its source is written into every QuixBugs repo as
`run_tests.py` and run there (`python3 run_tests.py python_testcases/test_<name>.py`). Sandboxes (the
bwrap view of the host's /usr, the minimal Docker image) have the standard library and nothing else,
so the runner provides the part of pytest the 40 QuixBugs test files use: `pytest.use_correct` and
`pytest.run_slow` (the benchmark's own conftest options, both False: the buggy program is tested and
slow cases are skipped), `@pytest.mark.parametrize`, `pytest.skip` and `pytest.approx`. Every
`test*` function of the file is run, once per parameter set; the exit status is 0 only when at least
one test ran and none failed. Stdlib only.
"""

from __future__ import annotations

import builtins
import importlib.util
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn


class Skipped(Exception):
    """`pytest.skip(reason)` inside a test."""


def skip(reason: str = "") -> NoReturn:
    raise Skipped(reason)


class Approx:
    """`pytest.approx(expected, rel=None, abs=None)` for numbers and sequences of numbers: with only
    `abs` given only the absolute tolerance counts, as in pytest; otherwise rel defaults to 1e-6."""

    def __init__(self, expected: Any, rel: float | None = None, abs: float | None = None) -> None:
        self.expected, self.rel, self.abs = expected, rel, abs

    def tolerance(self, expected: float) -> float:
        if self.rel is None and self.abs is not None:
            return self.abs
        relative = (1e-6 if self.rel is None else self.rel) * builtins.abs(expected)
        return max(relative, 1e-12 if self.abs is None else self.abs)

    def __eq__(self, actual: object) -> bool:
        if isinstance(self.expected, (list, tuple)):
            return len(actual) == len(self.expected) and all(
                Approx(e, self.rel, self.abs) == a for e, a in zip(self.expected, actual)
            )
        return builtins.abs(actual - self.expected) <= self.tolerance(self.expected)

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"


def parametrize(
    names: str | Sequence[str], values: Sequence[Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record the parameter sets on the function, as `@pytest.mark.parametrize` does."""
    arg_names = [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.parameter_sets = [
            dict(zip(arg_names, value if len(arg_names) > 1 else (value,))) for value in values
        ]
        return function

    return mark


def pytest_module() -> types.ModuleType:
    module = types.ModuleType("pytest")
    module.use_correct = False
    module.run_slow = False
    module.skip = skip
    module.approx = Approx
    module.mark = types.SimpleNamespace(parametrize=parametrize)
    return module


def load_test_module(test_path: str) -> types.ModuleType:
    test_file = Path(test_path).resolve()
    sys.path[:0] = [str(test_file.parent), str(Path.cwd())]  # `from node import Node`, `python_programs.x`
    spec = importlib.util.spec_from_file_location(test_file.stem, test_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(test_path: str) -> int:
    sys.modules["pytest"] = pytest_module()
    try:
        module = load_test_module(test_path)
    except Exception:  # noqa: BLE001 - a test file that fails to import is a failed run, reported
        traceback.print_exc()
        print(f"ERROR collecting {test_path}")
        return 2
    passed = failed = skipped = 0
    for name, function in sorted(vars(module).items()):
        if not name.startswith("test") or not callable(function):
            continue
        for index, arguments in enumerate(getattr(function, "parameter_sets", [{}])):
            label = f"{name}[{index}]" if arguments else name
            try:
                function(**arguments)
            except Skipped as reason:
                skipped += 1
                print(f"SKIPPED {label}: {reason}")
            except Exception:  # noqa: BLE001 - any exception in a test is a failed test, as in pytest
                failed += 1
                print("FAILED {} with {}".format(label, arguments or "no arguments"))
                traceback.print_exc(limit=-2, file=sys.stdout)
            else:
                passed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if passed and not failed else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 run_tests.py python_testcases/test_<name>.py")
    sys.exit(run(sys.argv[1]))
