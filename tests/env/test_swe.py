"""The `swe` environment on real local sandboxes, played through the real rollout (`run_episode`).

A scripted policy replies with fixed tool calls (tokenised by the tiny byte-level tokenizer, decoded
by the framework), so every trajectory here has the framework's outcome rule and turn records:

- applying each task's reference fix resolves it (QuixBugs and HumanEvalFix, one of them a buggy
  program that loops forever until the sandbox kills it);
- no submit, or an empty patch, gets outcome −1 and G-RA closes the gate on the step rewards, while
  direct accumulation pays them out (the documented numbers in docs/environments/swe.md);
- malformed calls are format failures with the error as the observation; failing tools are not;
- every sandbox is gone after the episode (the fixture fails the test on a leftover directory).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from agentrl.environments.swe import SWERepair, repair_rates
from agentrl.environments.swe.tasks import RepairTask

from agentrl.credit.rewards import GateChannel, gated_reward_accumulation
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.protocol import Generation
from agentrl.policy.tiny import build_tiny_tokenizer
from agentrl.rollout.batcher import GenerationBatcher
from agentrl.rollout.episode import EpisodeLimits, run_episode
from agentrl.types import Task, Trajectory

GRA = [GateChannel("outcome", 0.0), GateChannel("step")]
DIRECT = [GateChannel("outcome", -math.inf), GateChannel("step")]
FIXED_TASKS = ["quixbugs-bitcount", "quixbugs-gcd", "humanevalfix-0", "humanevalfix-2"]


@pytest.fixture
def base_dir() -> Iterator[Path]:
    """A fresh sandbox base directory the sandboxes' own uids can walk into (pytest's tmp_path is
    0700 under root); a sandbox directory left in it fails the test."""
    path = Path(tempfile.mkdtemp(prefix="agentrl-swe-test-"))
    path.chmod(0o755)
    yield path
    leftovers = sorted(p.name for p in path.iterdir())
    shutil.rmtree(path)
    assert not leftovers, f"sandboxes not removed: {leftovers}"


@pytest.fixture
def spec(base_dir: Path) -> SWERepair:
    return SWERepair(
        max_turns=6, command_timeout_s=2.0, test_timeout_s=5.0, sandbox_options={"base_dir": str(base_dir)}
    )


@pytest.fixture(scope="module")
def chat() -> ChatContext:
    return ChatContext(build_tiny_tokenizer(None))


def call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


class ScriptedPolicy:
    """A `Policy` that replies with the episode's next scripted action (one episode per instance)."""

    version = 0

    def __init__(self, chat: ChatContext, actions: Sequence[str]) -> None:
        self._chat = chat
        self._actions = list(actions)

    def generate_batch(
        self, contexts: list[list[int]], generators: list[torch.Generator]
    ) -> list[Generation]:
        assert len(contexts) == 1, "one scripted episode per policy"
        eos = self._chat.tokenizer.eos_token_id
        ids = self._chat.tokenizer.encode(self._actions.pop(0), add_special_tokens=False) + [eos]
        return [Generation(token_ids=ids, logprobs=[0.0] * len(ids), policy_version=0, stopped=True)]

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        raise NotImplementedError("a scripted policy has no weights")


def play(spec: SWERepair, chat: ChatContext, task: Task, actions: Sequence[str]) -> Trajectory:
    async def episode() -> Trajectory:
        batcher = GenerationBatcher(ScriptedPolicy(chat, actions), max_batch_size=1, max_wait_s=0.0)
        limits = EpisodeLimits(max_turns=spec.max_turns, max_context_tokens=1 << 20, max_new_tokens=4096)
        async with batcher:
            batcher.expect_episodes(1)
            return await run_episode(
                spec, "swe", task, f"g-{task.task_id}", chat, batcher, limits, torch.Generator()
            )

    return asyncio.run(episode())


def find(spec: SWERepair, task_id: str) -> Task:
    for split in ("train", "eval"):
        for index in range(spec.num_tasks(split) or 0):
            if (task := spec.task(split, index)).task_id == task_id:
                return task
    raise KeyError(task_id)


def reference_fix(task: Task) -> list[str]:
    """Run the tests, look, replace the buggy file by the reference fix, test again, submit."""
    repair = RepairTask.from_payload(task.task_id, task.payload)
    (path,) = repair.source_files
    return [
        call("run_tests"),
        call("view", path=path),
        call("edit", path=path, old=repair.files[path], new=repair.fix[path]),
        call("run_tests"),
        call("submit"),
    ]


def step_channel(trajectory: Trajectory) -> list[float]:
    return [turn.result.reward_channels["step"] for turn in trajectory.turns if turn.result]


def test_splits_are_fixed_and_cover_both_datasets(spec: SWERepair) -> None:
    assert (spec.num_tasks("train"), spec.num_tasks("eval")) == (164, 40)
    train = {spec.task("train", i).task_id for i in range(164)}
    held_out = {spec.task("eval", i).task_id for i in range(40)}
    assert not train & held_out
    assert {t.split("-")[0] for t in held_out} == {"quixbugs", "humanevalfix"}
    assert [tool["function"]["name"] for tool in spec.tools] == ["view", "edit", "run", "run_tests", "submit"]


@pytest.mark.parametrize("task_id", FIXED_TASKS)
def test_the_reference_fix_resolves_the_task(spec: SWERepair, chat: ChatContext, task_id: str) -> None:
    task = find(spec, task_id)
    trajectory = play(spec, chat, task, reference_fix(task))
    first_run, viewed, edited, second_run, submitted = (turn.result for turn in trajectory.turns)
    assert first_run is not None and viewed is not None and edited is not None and second_run is not None
    if task_id == "quixbugs-bitcount":  # the buggy bitcount loops forever: killed at test_timeout_s
        assert not first_run.tool_calls[0].ok and "killed" in str(first_run.tool_calls[0].error)
    else:
        assert first_run.tool_calls[0].ok and first_run.observation.startswith(
            "<tool_response>\ntests failed"
        )
    assert "   1  " in viewed.observation and edited.tool_calls[0].ok
    assert "tests passed" in second_run.observation
    assert submitted is not None and submitted.done and submitted.success is True
    assert trajectory.outcome_reward == 1.0 and trajectory.success
    assert first_run.state_key != second_run.state_key and second_run.state_key.endswith(":pass")
    expected_steps = [0.0 if task_id == "quixbugs-bitcount" else 0.1, 0.0, 0.1, 0.1, 0.0]
    assert step_channel(trajectory) == pytest.approx(expected_steps)
    (gated,) = gated_reward_accumulation([trajectory], channels=GRA)
    assert gated.outcome_reward == pytest.approx(1.0 + sum(expected_steps))
    assert repair_rates([trajectory]) == {
        "completion_rate": 1.0,
        "modification_rate": 1.0,
        "resolution_rate": 1.0,
    }


def test_no_submit_and_empty_patch_get_minus_one_and_gra_closes_the_gate(
    spec: SWERepair, chat: ChatContext
) -> None:
    task = find(spec, "humanevalfix-0")
    path = task.payload["source_files"][0]
    buggy = task.payload["files"][path]
    farming = play(spec, chat, task, [call("run_tests")] * spec.max_turns)
    empty = play(spec, chat, task, [call("run_tests"), call("submit")])
    wrong = play(
        spec, chat, task, [call("edit", path=path, old=buggy, new=buggy + "\n# no fix\n"), call("submit")]
    )
    fixed = play(spec, chat, task, reference_fix(task))

    assert farming.termination == "max_turns" and not farming.turns[-1].result.metrics["submitted"]
    assert [t.outcome_reward for t in (farming, empty, wrong, fixed)] == [-1.0, -1.0, 0.0, 1.0]
    assert step_channel(farming) == pytest.approx([0.1] * 6)
    assert all(turn.reward == 0.0 for t in (farming, empty, wrong, fixed) for turn in t.turns)

    gra = [t.outcome_reward for t in gated_reward_accumulation([farming, empty, wrong, fixed], channels=GRA)]
    direct = [
        t.outcome_reward for t in gated_reward_accumulation([farming, empty, wrong, fixed], channels=DIRECT)
    ]
    assert gra == pytest.approx([-1.0, -1.0, 0.1, 1.3])
    assert direct == pytest.approx([-0.4, -0.9, 0.1, 1.3])  # farming test runs beats an empty submit
    assert repair_rates([farming, empty, wrong, fixed]) == {
        "completion_rate": 0.75,
        "modification_rate": 0.5,
        "resolution_rate": 0.25,
    }


def test_malformed_calls_are_format_failures_and_failing_tools_are_not(
    spec: SWERepair, chat: ChatContext
) -> None:
    task = find(spec, "quixbugs-gcd")
    path = task.payload["source_files"][0]
    trajectory = play(
        spec,
        chat,
        task,
        [
            '<tool_call>{"name": "edit", "arguments": {"path": </tool_call>',
            "I think the bug is on line 3.",
            call("edit", path=path),
            call("edit", path=path, old="no such text", new="x"),
            call("run", cmd="echo hello; while true; do :; done"),
            call("run", cmd="echo out; echo err >&2; exit 3"),
        ],
    )
    bad_json, no_call, missing_args, not_found, looping, ran = (turn.result for turn in trajectory.turns)
    for result in (bad_json, no_call, missing_args):
        assert result is not None and result.failure == "format" and result.reward == -0.1
    assert "invalid JSON" in bad_json.observation and "no tool call found" in no_call.observation
    assert "missing required argument 'old'" in missing_args.observation
    assert not_found.failure is None and "does not occur in" in str(not_found.tool_calls[0].error)
    assert not looping.tool_calls[0].ok and "killed" in str(looping.tool_calls[0].error)
    assert ran.tool_calls[0].ok and ran.tool_calls[0].result == "exit code 3\nout\nerr\n"
    assert trajectory.outcome_reward == -1.0 and trajectory.turns[-1].result.metrics["modified"] is False


def test_editing_the_tests_does_not_pass_them(spec: SWERepair, chat: ChatContext) -> None:
    task = find(spec, "humanevalfix-0")
    repair = RepairTask.from_payload(task.task_id, task.payload)
    (test_file,) = repair.test_files
    (source,) = repair.source_files
    rigged = [
        call("edit", path=test_file, old=repair.files[test_file], new="print('all tests passed')\n"),
        call("edit", path=source, old=repair.files[source], new=repair.files[source] + "\n"),
        call("run_tests"),
        call("submit"),
    ]
    trajectory = play(spec, chat, task, rigged)
    assert "tests passed" in trajectory.turns[2].result.observation  # the rigged suite passes before submit
    assert trajectory.outcome_reward == 0.0 and not trajectory.success  # the restored suite does not


def test_close_removes_the_sandbox_mid_episode(spec: SWERepair) -> None:
    async def episode() -> None:
        env = spec.make_env()
        await env.reset(find(spec, "quixbugs-gcd"))
        await env.close()
        with pytest.raises(RuntimeError, match="sandbox is closed"):
            await env.view("python_programs/gcd.py")
        await env.close()  # idempotent

    asyncio.run(episode())  # the base_dir fixture asserts nothing is left


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="datasets must be a non-empty list of quixbugs, humanevalfix"):
        SWERepair(datasets=["swebench"])
    with pytest.raises(ValueError, match="eval_every must be >= 2"):
        SWERepair(eval_every=1)
    with pytest.raises(ValueError, match="unknown split 'test'"):
        SWERepair(datasets=["quixbugs"]).task("test", 0)
