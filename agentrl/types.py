"""The vocabulary of agentrl: every other module speaks in these types.

Token ids are the truth. A `Turn` keeps the exact ids the policy saw and sampled, so the learner trains
on what the sampler produced (no re-tokenization drift). Text fields exist for people (viewer, logs).
Everything here is plain data that round-trips through JSON (see `agentrl.store.trajectory_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FailureKind = Literal["infra", "timeout", "format", "truncated"]
"""Why a turn went wrong. `infra`/`timeout` are the framework's fault and are never trained on;
`format` is the agent's fault (an unparseable action) and is an ordinary low-reward sample;
`truncated` marks a turn cut short by a context or length limit."""

FAILURE_KINDS: tuple[FailureKind, ...] = ("infra", "timeout", "format", "truncated")
UNTRAINABLE_FAILURES: frozenset[str] = frozenset({"infra", "timeout"})

Termination = Literal["done", "truncated", "max_turns", "context_limit", "failure"]
"""How an episode ended: the env said done, the env truncated it, the framework's turn limit, the
context window, or an infra/timeout failure."""


@dataclass(frozen=True)
class Task:
    """What an episode is about. Episodes with the same `task_id` and `seed` form a group."""

    task_id: str
    seed: int
    prompt: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation, recorded so that tool-cost rewards and the viewer never parse text."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: str | None = None
    error: str | None = None
    latency_s: float = 0.0
    cost: float = 0.0


@dataclass(frozen=True)
class StepResult:
    """What an environment returns from `reset` and `step`.

    `state_key` is a canonical string key of the environment state (GiGPO anchor groups compare
    them for equality); `None` when the environment cannot say. The typed fields after `tool_calls`
    are everything the framework reads from a step; `info` is free-form data for people (the viewer,
    the trajectory files) that agentrl never interprets.
    """

    observation: str
    reward: float = 0.0
    done: bool = False
    truncated: bool = False
    state_key: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    action: str | None = None
    """The action the environment read from the reply (`search[blue shirt]`), stored as the turn's
    `parsed_action` for the viewer."""
    failure: Literal["format"] | None = None
    """`format`: the reply could not be read as an action (the agent's fault, an ordinary low-reward
    sample; counted in `format_failures`)."""
    success: bool | None = None
    """On the step that ends the episode: whether the task was achieved (the episode's `success`
    metric; None counts as not achieved)."""
    score: float | None = None
    """The episode's outcome reward when it is not the sum of the step rewards; the last step's counts."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Episode metrics of the environment's own (`em`, `resolved`), numbers or flags; the latest value
    of each name wins, stored as `env/<name>` in the trajectory's metrics."""
    reward_channels: dict[str, float] = field(default_factory=dict)
    """Named step-critic rewards that are not part of `reward` (`{"step": 0.1}`); only the G-RA reward
    transform reads them (agentrl/credit/rewards.py)."""
    task_type: str | None = None
    """The kind of task (ALFWorld's `pick_and_place`); `agentrl eval` reports success per type."""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One agent decision.

    `observation_ids` are the tokens appended to the context before this decision (observation text
    and chat-template tokens: never trained on); `action_ids` are the sampled tokens (trained on) with
    their `behaviour_logprobs` from the engine that sampled them under `policy_version`.
    `state_key` is the key of the state the decision was made in; `result` is what the environment
    returned for the action. `value` is the critic's V(h_t) of that state and `token_values` its value
    of the state before each action token (`token_values[0] == value`: the same state); both are
    written by the learner after the rollout and before credit assignment (PPO with a critic only).

    `context_ids` is `None` when the decision saw the append-only history (the previous decision's
    context, its action, then this turn's `observation_ids`), and otherwise holds the exact ids the
    policy was given: a windowed context (`rollout.context=window`) restarts the conversation, so it
    cannot be rebuilt from the ids before it and is kept whole, for the learner to train on verbatim.
    `observation_ids` keeps its meaning either way (the ids that follow the previous action in one
    conversation), which is what a window's kept turns are assembled from.
    """

    observation_ids: list[int]
    action_ids: list[int]
    behaviour_logprobs: list[float]
    policy_version: int
    observation_text: str = ""
    action_text: str = ""
    parsed_action: str | None = None
    state_key: str | None = None
    result: StepResult | None = None
    failure: FailureKind | None = None
    value: float | None = None
    token_values: list[float] | None = None
    context_ids: list[int] | None = None

    @property
    def reward(self) -> float:
        """Immediate reward of this turn (0 when the environment never answered)."""
        return self.result.reward if self.result is not None else 0.0


@dataclass
class Trajectory:
    """One episode: the turns of one agent on one task, plus what credit assignment made of it.

    `group_id` identifies the group this episode was sampled in (one task, one seed, one step), so
    group-relative credit never mixes episodes of different tasks. `advantages` holds one value per
    turn once a credit assigner has run; `None` means not yet assigned or excluded from training.
    Token-level assigners (token GAE, token TEMPO) also fill `token_advantages`, one list per turn with
    one value per action token, which the learner then trains on; `advantages` is then each turn's
    mean over its tokens, a summary for people and the replay index.
    `error` says what broke when `failure` is `infra` or `timeout`.
    """

    task_id: str
    group_id: str
    env_name: str
    seed: int
    turns: list[Turn] = field(default_factory=list)
    outcome_reward: float = 0.0
    termination: Termination = "done"
    failure: FailureKind | None = None
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    advantages: list[float] | None = None
    token_advantages: list[list[float]] | None = None

    @property
    def trainable(self) -> bool:
        """Infra and timeout failures are logged, never trained on or counted in group statistics."""
        return self.failure not in UNTRAINABLE_FAILURES

    @property
    def success(self) -> bool:
        return bool(self.metrics.get("success", 0.0))
