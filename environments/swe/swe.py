"""`swe`: repair a buggy program inside a sandbox, with tools, for G-RA-gated rewards.

Each episode materialises one repair task (`tasks.py`: a QuixBugs program or a HumanEvalFix function
with its tests) into a fresh sandbox (`agentrl.sandboxes.create_sandbox`, backend `local` by default) and
gives the agent five tools through the framework's tool protocol (`agentrl.tools`, Hermes
`<tool_call>` JSON by default): `view(path)`, `edit(path, old, new)`, `run(cmd)`, `run_tests()` and
the final tool `submit()`. A reply with no call or a malformed one is a `format` failure (−
`format_penalty`, the error as the observation); a tool that fails (a missing file, an `old` text that
does not occur exactly once, a command past its timeout) is a failed `ToolCall` the agent reads.

Rewards are reported as G-RA channels (ALGORITHMS.md §2.1), never summed by the environment:

- outcome, as `score` on every step (the framework takes the last step's): 1 when the
  submitted repo passes its tests, 0 when it was submitted but fails, −1 when nothing was submitted
  (turn or context limit) or the submitted patch is empty (no source file changed). Test files are
  restored before the final run, so editing a test never passes it.
- `reward_channels["step"]`, the step critic: `test_run_reward` for a turn in which a test
  run executed to the end (pass or fail, not killed by the timeout) plus `edit_reward` for a turn in
  which an edit applied. Turn rewards stay 0 apart from format penalties; the `gra` reward transform
  adds the step channel where its gate is open (configs/env/swe.yaml gates it on outcome ≥ 0).

Every step's `metrics` also say `submitted`, `modified` (a source file differs from the original) and
`resolved`, so the last turn of a trajectory gives G-RA's completion, modification and resolution
rates (`agentrl.environments.swe.metrics.repair_rates`). The state key is the task, a digest of the source
files and the verdict of the last test run on exactly those sources. The sandbox is closed on submit
and in `close()`, which the rollout always calls (also after a crash or a timeout); a buggy program
that loops forever is killed by the sandbox's per-command timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agentrl.environments.swe.tasks import DATASETS, RepairTask, load_tasks, split_tasks
from agentrl.sandboxes import ExecResult, Limits, Sandbox, SandboxError, create_sandbox

from agentrl.tools import CALL_INSTRUCTIONS, Toolbox, format_failure
from agentrl.types import StepResult, Task, ToolCall

STEP_CHANNEL = "step"
"""The G-RA channel name of the step critic in `StepResult.reward_channels`."""


class CommandKilled(RuntimeError):
    """A command or test run the sandbox killed at its timeout. Not `TimeoutError`: the tool
    protocol reads that as the tool itself hanging, and this is an answer the agent should see."""


def submit() -> None:
    """Submit the repository as it is now and end the episode; the tests are then run on it."""


@dataclass(frozen=True)
class EpisodeSettings:
    """What every episode of one `SWERepair` spec shares (see `SWERepair` for the meanings)."""

    tool_call_format: str
    sandbox_backend: str
    sandbox_options: Mapping[str, Any]
    limits: Limits
    test_timeout_s: float
    max_observation_chars: int
    format_penalty: float
    test_run_reward: float
    edit_reward: float
    tool_timeout_s: float = field(init=False)

    def __post_init__(self) -> None:
        # The sandbox kills a command at its own timeout; the tool's limit only catches a stuck backend.
        object.__setattr__(self, "tool_timeout_s", max(self.limits.timeout_s, self.test_timeout_s) + 30.0)


class SWERepairEnv:
    """One episode: a sandbox holding the task's repo, and what the agent did to it so far."""

    def __init__(self, settings: EpisodeSettings) -> None:
        self._settings = settings
        self.toolbox = Toolbox(
            [self.view, self.edit, self.run, self.run_tests],
            fmt=settings.tool_call_format,
            timeout_s=settings.tool_timeout_s,
            final=submit,
        )
        self._lock = asyncio.Lock()  # one reply's calls run concurrently; edits to one file must not race
        self._task: RepairTask | None = None
        self._sandbox: Sandbox | None = None
        self._turn_events: set[str] = set()
        self._verdicts: dict[str, str] = {}
        """Verdict of the last test run per source digest: `pass`, `fail` or `timeout`."""
        self._modified = False

    # --- tools (bound methods: their schemas come from these signatures and docstrings) ---------------

    async def view(self, path: str) -> str:
        """Show a file of the repository with line numbers.

        Args:
            path: the file, relative to the repository root (e.g. python_programs/gcd.py).
        """
        text = await self._read(path)
        numbered = "\n".join(f"{number:4d}  {line}" for number, line in enumerate(text.splitlines(), start=1))
        return self._clip(numbered or f"{path} is empty")

    async def edit(self, path: str, old: str, new: str) -> str:
        """Replace one exact piece of text in a file.

        Args:
            path: the file, relative to the repository root.
            old: the text to replace; it must occur exactly once in the file (include nearby lines).
            new: the replacement text.
        """
        async with self._lock:
            text = await self._read(path)
            count = text.count(old) if old else 0
            if count != 1:
                where = (
                    "is empty" if not old else ("does not occur" if count == 0 else f"occurs {count} times")
                )
                raise ValueError(
                    f"`old` {where} in {path}; it must match exactly one place (copy it from view)"
                )
            if old == new:
                raise ValueError("`old` and `new` are the same: the edit would change nothing")
            await self._live_sandbox().write_file(path, text.replace(old, new))
            self._turn_events.add("edit")
        return f"edited {path}: {old.count(chr(10)) + 1} line(s) replaced by {new.count(chr(10)) + 1}"

    async def run(self, cmd: str) -> str:
        """Run a shell command in the repository root (no network); killed after the command timeout.

        Args:
            cmd: the command, e.g. python3 -c "from gcd import gcd; print(gcd(4, 6))".
        """
        async with self._lock:
            result = await self._live_sandbox().exec(cmd)
        if result.timed_out:
            raise CommandKilled(f"the command ran past {self._settings.limits.timeout_s:g} s and was killed")
        return self._clip(f"exit code {result.exit_code}\n{result.stdout}{result.stderr}")

    async def run_tests(self) -> str:
        """Run the repository's test suite and show its result."""
        async with self._lock:
            result, verdict = await self._test()
            if not result.timed_out:
                self._turn_events.add("test_run")
        if result.timed_out:
            raise CommandKilled(
                f"the tests ran past {self._settings.test_timeout_s:g} s and were killed (an infinite loop?)"
            )
        return self._clip(
            f"tests {'passed' if verdict == 'pass' else 'failed'}\n{result.stdout}{result.stderr}"
        )

    # --- the Env protocol -------------------------------------------------------------------------------

    async def reset(self, task: Task) -> StepResult:
        self._task = RepairTask.from_payload(task.task_id, task.payload)
        settings = self._settings
        self._sandbox = await create_sandbox(
            settings.sandbox_backend, settings.limits, **settings.sandbox_options
        )
        await asyncio.gather(
            *(self._sandbox.write_file(path, text) for path, text in self._task.files.items())
        )
        listing = "\n".join(f"  {path}" for path in sorted(self._task.files))
        observation = (
            f"{self._task.description}\nRepository files:\n{listing}\nThe tests run with: "
            f"{self._task.test_command}\nFix the bug, check it with run_tests, then call submit."
        )
        return StepResult(observation=observation, state_key=await self._state_key())

    async def step(self, action: str) -> StepResult:
        if self._task is None:
            raise RuntimeError("step() before reset(): call reset(task) first")
        self._turn_events = set()
        reply = await self.toolbox.run(action)
        if reply.kind == "final":
            return await self._submit()
        if reply.kind == "calls":
            return await self._after_calls(reply.records, reply.observation)
        error = (
            reply.observation
            if reply.kind == "malformed"
            else (
                f"no tool call found; call view, edit, run, run_tests or submit ({self.toolbox.fmt} format)"
            )
        )
        failed = format_failure(error, self._settings.format_penalty, await self._state_key())
        return replace(failed, **self._progress(score=-1.0, step_reward=0.0))

    async def close(self) -> None:
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.close()

    # --- episode logic ------------------------------------------------------------------------------------

    async def _after_calls(self, records: tuple[ToolCall, ...], observation: str) -> StepResult:
        settings = self._settings
        step_reward = settings.test_run_reward * ("test_run" in self._turn_events) + settings.edit_reward * (
            "edit" in self._turn_events
        )
        state_key = await self._state_key()
        return StepResult(
            observation=observation,
            state_key=state_key,
            tool_calls=records,
            action="; ".join(_describe(call) for call in records),
            **self._progress(score=-1.0, step_reward=step_reward),
        )

    async def _submit(self) -> StepResult:
        task, sandbox = self._task, self._live_sandbox()
        assert task is not None
        state_key = await self._state_key()
        if not self._modified:
            outcome, resolved = -1.0, False
            observation = f"submitted an empty patch: {', '.join(task.source_files)} unchanged"
        else:
            await asyncio.gather(*(sandbox.write_file(path, task.files[path]) for path in task.test_files))
            _, verdict = await self._test()
            resolved = verdict == "pass"
            outcome = 1.0 if resolved else 0.0
            observation = f"submitted; the tests {'pass' if resolved else 'fail'}"
        await self.close()
        return StepResult(
            observation=observation,
            done=True,
            state_key=state_key,
            success=resolved,
            action="submit()",
            **self._progress(score=outcome, step_reward=0.0, submitted=True, resolved=resolved),
        )

    async def _test(self) -> tuple[ExecResult, str]:
        assert self._task is not None
        digest = await self._digest()
        result = await self._live_sandbox().exec(
            self._task.test_command, timeout=self._settings.test_timeout_s
        )
        verdict = "timeout" if result.timed_out else ("pass" if result.exit_code == 0 else "fail")
        self._verdicts[digest] = verdict
        return result, verdict

    def _progress(
        self, score: float, step_reward: float, submitted: bool = False, resolved: bool = False
    ) -> dict[str, Any]:
        """The StepResult fields every step carries: the outcome so far, the step channel and the rate
        flags (as episode metrics, so the trainer logs their means as `env/submitted` ... per step)."""
        return {
            "score": score,
            "reward_channels": {STEP_CHANNEL: step_reward},
            "metrics": {"submitted": submitted, "modified": self._modified, "resolved": resolved},
        }

    async def _digest(self) -> str:
        """Digest of the source files as they are now; also updates `modified`."""
        assert self._task is not None
        sources = [await self._read(path, missing_ok=True) for path in self._task.source_files]
        self._modified = sources != [self._task.files[path] for path in self._task.source_files]
        return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]

    async def _state_key(self) -> str:
        assert self._task is not None
        digest = await self._digest()
        return f"{self._task.task_id}:{digest}:{self._verdicts.get(digest, 'untested')}"

    async def _read(self, path: str, missing_ok: bool = False) -> str:
        try:
            data = await self._live_sandbox().read_file(path)
        except SandboxError:
            if missing_ok:
                return ""  # the agent deleted a source file (with `run`): the digest says so
            raise
        return data.decode("utf-8", errors="replace")

    def _live_sandbox(self) -> Sandbox:
        if self._sandbox is None:
            raise RuntimeError("the episode's sandbox is closed (after submit or close)")
        return self._sandbox

    def _clip(self, text: str) -> str:
        """Head and tail of a long output: test failures print their summary last."""
        limit = self._settings.max_observation_chars
        if len(text) <= limit:
            return text
        half = limit // 2
        return f"{text[:half]}\n... [{len(text) - 2 * half} characters cut] ...\n{text[-half:]}"


def _describe(call: ToolCall) -> str:
    shown = {key: value for key, value in call.arguments.items() if key in ("path", "cmd")}
    return f"{call.name}({', '.join(f'{key}={value!r}' for key, value in shown.items())})"


class SWERepair:
    """The `swe` EnvSpec: QuixBugs (40 programs) and HumanEvalFix (164 functions) repair tasks.

    Parameters (configs/env/swe.yaml): `datasets` to draw from, `eval_every` (every n-th task of each
    dataset is held out), `max_turns`, `tool_call_format` (hermes | json | pythonic),
    `sandbox_backend` (local | docker) and `sandbox_options` (docker: `image`), the per-command
    `command_timeout_s`, the test suite's `test_timeout_s`, `memory_mb` per process,
    `max_observation_chars`, and the rewards `format_penalty`, `test_run_reward`, `edit_reward`.
    """

    def __init__(
        self,
        datasets: Sequence[str] = DATASETS,
        eval_every: int = 5,
        max_turns: int = 12,
        tool_call_format: str = "hermes",
        sandbox_backend: str = "local",
        sandbox_options: Mapping[str, Any] | None = None,
        command_timeout_s: float = 10.0,
        test_timeout_s: float = 20.0,
        memory_mb: int = 1024,
        max_observation_chars: int = 4000,
        format_penalty: float = 0.1,
        test_run_reward: float = 0.1,
        edit_reward: float = 0.1,
    ) -> None:
        if max_turns < 1 or max_observation_chars < 100:
            raise ValueError(
                f"need max_turns >= 1 and max_observation_chars >= 100, got {max_turns}, {max_observation_chars}"
            )
        if min(format_penalty, test_run_reward, edit_reward) < 0:
            raise ValueError(
                "format_penalty, test_run_reward and edit_reward must be >= 0, got "
                f"{format_penalty}, {test_run_reward}, {edit_reward}"
            )
        if test_timeout_s <= 0:
            raise ValueError(f"test_timeout_s must be positive, got {test_timeout_s}")
        self.splits = split_tasks(load_tasks(list(datasets)), eval_every)
        self.max_turns = max_turns
        self._settings = EpisodeSettings(
            tool_call_format=tool_call_format,
            sandbox_backend=sandbox_backend,
            sandbox_options=dict(sandbox_options or {}),
            limits=Limits(timeout_s=command_timeout_s, memory_bytes=memory_mb << 20),
            test_timeout_s=test_timeout_s,
            max_observation_chars=max_observation_chars,
            format_penalty=format_penalty,
            test_run_reward=test_run_reward,
            edit_reward=edit_reward,
        )
        self.tools = self.make_env().toolbox.schemas
        self.system_prompt = (
            "You repair a small Python repository whose tests fail because of a bug. Use the tools: view a "
            "file, edit it by replacing an exact piece of text, run a shell command, run the tests; call "
            "submit when the tests pass. " + CALL_INSTRUCTIONS[tool_call_format]
        )

    def task(self, split: str, index: int) -> Task:
        tasks = self._split(split)
        if not 0 <= index < len(tasks):
            raise IndexError(f"swe {split} has {len(tasks)} tasks, no index {index}")
        task = tasks[index]
        return Task(task_id=task.task_id, seed=index, prompt=task.description, payload=task.to_payload())

    def num_tasks(self, split: str) -> int | None:
        return len(self._split(split))

    def make_env(self) -> SWERepairEnv:
        return SWERepairEnv(self._settings)

    def vocabulary(self) -> Sequence[str] | None:
        return None  # code and free text: the tiny model's tokenizer is byte level

    def _split(self, split: str) -> list[RepairTask]:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; swe has: {', '.join(self.splits)}")
        return self.splits[split]
