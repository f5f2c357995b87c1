"""What an environment is to the framework.

Two small protocols. An `EnvSpec` is what a plugin registers: it knows the tasks and makes one fresh
`Env` per episode. An `Env` is one episode's state machine with async `reset`/`step`/`close`; any
blocking work inside it runs off the event loop (`asyncio.to_thread` or a pool), so a slow environment
never stalls the other episodes. Model I/O, chat templates and tokenization belong to the framework:
an environment only sees and returns text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from agentrl.types import StepResult, Task


@runtime_checkable
class Env(Protocol):
    """One episode. The framework calls `reset` once, `step` until done, then `close` (always)."""

    async def reset(self, task: Task) -> StepResult: ...

    async def step(self, action: str) -> StepResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class EnvSpec(Protocol):
    """A registered environment: its tasks and a factory of episodes.

    Built once per run as `SpecClass(**env.params)` from the hydra config.

    - `system_prompt`: instructions given once at the start of every episode.
    - `max_turns`: the framework ends an episode after this many turns (`termination="max_turns"`).
    - `task(split, index)`: the task at `index` of a split (`"train"` or `"eval"`); deterministic, so
      a resumed run sees the same tasks. `num_tasks(split)` is `None` for generated (unbounded) sets.
    - optional `tools`: OpenAI function schemas of the environment's tools (`agentrl.tools`); the
      framework renders them into the prompt through the chat template. Not a protocol member, so
      environments without tools need not declare it.
    - optional `shutdown()`: stops what the spec started (worker processes, a Ray cluster); the
      framework calls it once when a run or an evaluation ends, however it ends.
    - `vocabulary()`: the words this environment's text is made of, or `None`. The from-scratch
      `model=tiny` builds a word-level tokenizer from it; real tokenizers ignore it.
    - optional `demonstration(task) -> list[str] | None`: an expert's replies for `task`, written as
      the policy would write them (the same tags or tool-call syntax the environment parses), that
      succeed when played in order through a fresh episode; `None` when there is no expert for that
      task. `agentrl sft` trains on them (agentrl/rollout/demonstrations.py). Not a protocol member,
      so environments without an expert need not declare it.
    """

    system_prompt: str
    max_turns: int

    def task(self, split: str, index: int) -> Task: ...

    def num_tasks(self, split: str) -> int | None: ...

    def make_env(self) -> Env: ...

    def vocabulary(self) -> Sequence[str] | None: ...
