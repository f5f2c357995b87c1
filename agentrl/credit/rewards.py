"""Reward transforms (ALGORITHMS.md §2): reshape rewards after rollout, before advantages.

Each transform is a pure function: it returns *new* `Trajectory` objects (new turn lists, new
`StepResult`s, copied `metrics`) and never mutates its inputs, so the trajectories the environment
produced stay available for comparison. `REWARD_TRANSFORMS` is their registry (agentrl/registry.py):
each is `transform(trajectories, **params) -> list[Trajectory]` with keyword-only parameters, so a plugin
adds one through entry-point group `agentrl.reward_transforms`. `RewardPipeline` runs them in the order
the config declares (`rewards: [{name: ..., ...}, ...]`) and carries their state across steps: a
transform that declares a keyword `state` gets one dict shared by the run (OTC-GRPO keeps its running
minimum of tool calls per task there), which the trainer saves in its checkpoint.

Where rewards live, and what a transform may change:
- `turn.result.reward` — the immediate turn reward; GiGPO's step-level returns read it.
- `trajectory.outcome_reward` — the episode reward; every group-relative estimator reads it. The
  episode sets it to the env's final `score` when there is one, else the sum of turn rewards;
  a transform that changes turn rewards applies the same rule again, so the two stay consistent.
- `turn.result.reward_channels` — optional named step-critic rewards (`{"format": 1.0,
  "tool_ok": 0.5}`) that are *not* part of `result.reward`; only G-RA reads them.
Infra/timeout trajectories (`not trajectory.trainable`) pass through every transform unchanged.
"""

from __future__ import annotations

import inspect
import math
import statistics
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agentrl.registry import ParamsError, Registry, UnknownNameError
from agentrl.types import Trajectory, Turn

OUTCOME_CHANNEL = "outcome"
"""The G-RA channel name of the trajectory's outcome reward as the episode set it."""


# --- Shared bookkeeping ------------------------------------------------------------------------------


def tool_call_count(trajectory: Trajectory) -> int:
    """m in OTC: the `ToolCall` records of the trajectory's turns (never a regex over the text)."""
    return sum(len(turn.result.tool_calls) for turn in trajectory.turns if turn.result is not None)


def _with_turn_rewards(trajectory: Trajectory, turn_rewards: Sequence[float]) -> Trajectory:
    """A copy with new immediate turn rewards and the outcome recomputed by the episode's rule
    (env `score` if the last step reported one, else the sum of turn rewards)."""
    turns: list[Turn] = []
    for turn, reward in zip(trajectory.turns, turn_rewards, strict=True):
        result = turn.result
        turns.append(replace(turn, result=replace(result, reward=reward)) if result is not None else replace(turn))
    last = trajectory.turns[-1].result if trajectory.turns else None
    if last is not None and last.score is not None:
        outcome = trajectory.outcome_reward
    else:
        outcome = sum(turn.reward for turn in turns)
    return replace(trajectory, turns=turns, outcome_reward=outcome, metrics=dict(trajectory.metrics))


def _with_outcome(trajectory: Trajectory, outcome: float) -> Trajectory:
    return replace(trajectory, turns=list(trajectory.turns), outcome_reward=outcome, metrics=dict(trajectory.metrics))


# --- §2.3 Format / invalid-action penalty -------------------------------------------------------------


def format_penalty(trajectories: Sequence[Trajectory], *, penalty: float = 0.1) -> list[Trajectory]:
    """Turn reward −p for a turn marked `failure="format"` whose env left its reward at exactly 0.

    Environments built on `GymnasiumEnv` already return −`invalid_action_penalty` for such turns; a
    non-zero reward means the env has priced the mistake itself, so it is left alone (no double
    count). The outcome is recomputed by the episode rule: it moves by −p per penalised turn unless
    the env reports a final `score`, which stays the outcome.
    """
    if penalty < 0:
        raise ValueError(f"format_penalty: penalty must be >= 0 (it is subtracted), got {penalty}")
    transformed = []
    for trajectory in trajectories:
        if not trajectory.trainable:
            transformed.append(trajectory)
            continue
        rewards = [
            -penalty if turn.failure == "format" and turn.result is not None and turn.result.reward == 0.0 else turn.reward
            for turn in trajectory.turns
        ]
        transformed.append(_with_turn_rewards(trajectory, rewards))
    return transformed


# --- §2.1 G-RA: Gated Reward Accumulation (arXiv 2508.10548) ----------------------------------------


@dataclass(frozen=True)
class GateChannel:
    """One G-RA channel: its name and the threshold δ that gates every lower-priority channel."""

    name: str
    threshold: float | None = None
    """δ; None only for the last channel (nothing below it to gate)."""


def gated_reward_accumulation(
    trajectories: Sequence[Trajectory], *, channels: Sequence[GateChannel | Mapping[str, Any]]
) -> list[Trajectory]:
    """R = Σ_k r^(k) · Π_{j higher than k} 1[r^(j) ≥ δ_j], channels in priority order.

    `channels[0]` must be `outcome`: r^(out) is `trajectory.outcome_reward` as it arrives (the env's
    score, or its summed turn rewards). Every other channel is a step critic: r^(k)_t is
    `turn.result.reward_channels[name]` (0 when absent) and r^(k) = Σ_t r^(k)_t is the value its
    own gate compares. An open gate adds r^(k)_t to turn t's reward (so GiGPO's returns see it) and
    r^(k) to the outcome; a closed gate adds zero to both. Two levels give the paper's
    R = r^out + 1[r^out ≥ δ] · Σ_t r^step_t. A channel may be given as its config mapping
    `{name: ..., threshold: ...}`.
    """
    channels = tuple(_as_channel(channel) for channel in channels)
    _check_channels(channels)
    transformed = []
    for trajectory in trajectories:
        if not trajectory.trainable:
            transformed.append(trajectory)
            continue
        step_values = [
            [float(_reward_channels(turn).get(channel.name, 0.0)) for turn in trajectory.turns]
            for channel in channels[1:]
        ]
        totals = [trajectory.outcome_reward] + [sum(values) for values in step_values]
        open_gate = True
        outcome = trajectory.outcome_reward
        turn_rewards = [turn.reward for turn in trajectory.turns]
        for k, channel in enumerate(channels[1:], start=1):
            higher = channels[k - 1]
            assert higher.threshold is not None
            open_gate = open_gate and totals[k - 1] >= higher.threshold  # Π_{j<k} 1[r^(j) ≥ δ_j]
            if open_gate:
                outcome += totals[k]
                turn_rewards = [r + v for r, v in zip(turn_rewards, step_values[k - 1])]
        result = _with_outcome(trajectory, outcome)
        result.turns = [
            replace(turn, result=replace(turn.result, reward=reward)) if turn.result is not None else turn
            for turn, reward in zip(trajectory.turns, turn_rewards)
        ]
        outcome_threshold = channels[0].threshold
        result.metrics["gra_gate_open"] = float(outcome_threshold is None or totals[0] >= outcome_threshold)
        transformed.append(result)
    return transformed


def _reward_channels(turn: Turn) -> Mapping[str, Any]:
    return turn.result.reward_channels if turn.result is not None else {}


def _check_channels(channels: Sequence[GateChannel]) -> None:
    if not channels or channels[0].name != OUTCOME_CHANNEL:
        raise ValueError(
            f"gra: the first (highest-priority) channel must be {OUTCOME_CHANNEL!r}, got "
            f"{[c.name for c in channels]}; e.g. channels: [{{name: outcome, threshold: 1.0}}, {{name: format}}]"
        )
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ValueError(f"gra: channel names must be distinct, got {names}")
    for channel in channels[:-1]:
        if channel.threshold is None:
            raise ValueError(f"gra: channel {channel.name!r} gates the channels below it and needs a threshold")


# --- §2.2 OTC: Optimal Tool Calls (arXiv 2504.14870) -------------------------------------------------


def otc_ppo_tool_reward(m: int, *, c: float = 1.0) -> float:
    """OTC-PPO: r_tool = cos(m·π / (2m + c)); 1 at m = 0, falling towards 0 as m grows."""
    return math.cos(m * math.pi / (2 * m + c))


def otc_grpo_tool_reward(m: int, n: int, *, c: float = 1.0) -> float:
    """OTC-GRPO: r_tool = 1 if f = n = 0; cos(m·π/(2m+c)) if n = 0; else sin(f(m,n)·π/(2n)).

    f(m,n) = 0 if m = n = 0; m if n = 0; else 2nm/(m+n). The peak r_tool = 1 is at m = n.
    """
    if n == 0:
        f = 0.0 if m == 0 else float(m)
    else:
        f = 2 * n * m / (m + n)
    if f == 0 and n == 0:
        return 1.0
    if n == 0:
        return otc_ppo_tool_reward(m, c=c)
    return math.sin(f * math.pi / (2 * n))


def otc_ppo(trajectories: Sequence[Trajectory], *, alpha: float = 1.0, c: float = 1.0) -> list[Trajectory]:
    """R' = α · cos(m·π/(2m+c)) · r_correct, with r_correct = 1[trajectory success].

    The outcome reward is replaced (transforms declared before OTC affect only the turn rewards);
    turn rewards are left as they are.
    """
    _check_otc(alpha, c)
    return [
        _with_outcome(t, alpha * otc_ppo_tool_reward(tool_call_count(t), c=c) * float(t.success)) if t.trainable else t
        for t in trajectories
    ]


def otc_grpo(
    trajectories: Sequence[Trajectory],
    *,
    best_calls: Mapping[str, int],
    alpha: float = 1.0,
    c: float = 1.0,
) -> tuple[list[Trajectory], dict[str, int]]:
    """R' = α · r_tool(m, n) · r_correct, n = the fewest tool calls of a correct trajectory of the task.

    n is a running minimum per `task_id` across steps: `best_calls` is its value before this batch
    and the updated copy is returned (the input is not changed). Correctness is trajectory success
    (`metrics["success"]`); an incorrect trajectory gets 0 whatever its tool calls, so n is needed only
    where the group has a correct member, and then it is defined.
    """
    _check_otc(alpha, c)
    updated = dict(best_calls)
    for t in trajectories:
        if t.trainable and t.success:
            m = tool_call_count(t)
            updated[t.task_id] = min(updated.get(t.task_id, m), m)
    transformed = []
    for t in trajectories:
        if not t.trainable:
            transformed.append(t)
            continue
        reward = alpha * otc_grpo_tool_reward(tool_call_count(t), updated[t.task_id], c=c) if t.success else 0.0
        transformed.append(_with_outcome(t, reward))
    return transformed, updated


def otc_grpo_running(
    trajectories: Sequence[Trajectory], *, state: MutableMapping[str, Any], alpha: float = 1.0, c: float = 1.0
) -> list[Trajectory]:
    """`otc_grpo` as a pipeline step: n per task is read from and written back to the run's state
    (`state["otc_best_calls"]`), so it keeps falling across steps and survives a resume."""
    best = {str(task): int(n) for task, n in state.get("otc_best_calls", {}).items()}
    transformed, state["otc_best_calls"] = otc_grpo(trajectories, best_calls=best, alpha=alpha, c=c)
    return transformed


def _check_otc(alpha: float, c: float) -> None:
    if c <= 0:
        raise ValueError(f"otc: c must be > 0 (it keeps 2m + c positive), got {c}")
    if alpha <= 0:
        raise ValueError(f"otc: alpha must be > 0, got {alpha}")


# --- DAPO soft overlong punishment (Yu et al. 2025, arXiv 2503.14476, Eq. 13) ---------------------------


def overlong_reward(length: int, *, max_length: int, cache: int) -> float:
    """R_length(y) of DAPO Eq. 13, for a response of `length` tokens:

        0                                  |y| ≤ L_max − L_cache
        ((L_max − L_cache) − |y|) / L_cache    L_max − L_cache < |y| ≤ L_max     (0 down to −1, linear)
        −1                                 L_max < |y|
    """
    budget = max_length - cache  # the expected maximum length; the last `cache` tokens are the soft zone
    if length <= budget:
        return 0.0
    if length <= max_length:
        return (budget - length) / cache
    return -1.0


def overlong_penalty(
    trajectories: Sequence[Trajectory], *, max_length: int = 20480, cache: int = 4096
) -> list[Trajectory]:
    """R' = R + R_length(|y|) with |y| = the trajectory's action tokens over all turns (ours: the agent's
    whole generated response; DAPO has one response per episode). Only the outcome moves, as with OTC:
    turn rewards are left as they are. Each trajectory's R_length is kept in `metrics["overlong_penalty"]`.
    """
    _check_overlong(max_length, cache)
    transformed = []
    for t in trajectories:
        if not t.trainable:
            transformed.append(t)
            continue
        penalty = overlong_reward(sum(len(turn.action_ids) for turn in t.turns), max_length=max_length, cache=cache)
        shaped = _with_outcome(t, t.outcome_reward + penalty)
        shaped.metrics["overlong_penalty"] = penalty
        transformed.append(shaped)
    return transformed


def _check_overlong(max_length: int, cache: int) -> None:
    if not 0 < cache <= max_length:
        raise ValueError(
            f"overlong: need 0 < cache ≤ max_length (DAPO: cache 4096 of max_length 20480), "
            f"got cache={cache}, max_length={max_length}"
        )


# --- The pipeline declared in config ----------------------------------------------------------------


RewardTransformFunction = Callable[..., list[Trajectory]]
"""`transform(trajectories, **params) -> new trajectories`; parameters keyword-only, `state` reserved."""

REWARD_TRANSFORM_GROUP = "agentrl.reward_transforms"
STATE_PARAMETER = "state"
"""The keyword through which the pipeline hands a transform the run's state; never set from config."""

REWARD_TRANSFORMS: Registry[RewardTransformFunction] = Registry(
    "reward transform",
    REWARD_TRANSFORM_GROUP,
    {
        "format_penalty": format_penalty,
        "gra": gated_reward_accumulation,
        "otc_ppo": otc_ppo,
        "otc_grpo": otc_grpo_running,
        "overlong": overlong_penalty,
    },
    how_to_add=f"Install a plugin that declares it in entry-point group {REWARD_TRANSFORM_GROUP!r} "
    "or call agentrl.credit.rewards.REWARD_TRANSFORMS.register(name, function).",
    reserved=(STATE_PARAMETER,),
)


@dataclass(frozen=True)
class RewardTransform:
    """One validated entry of the `rewards` config list: the function and its complete parameters."""

    name: str
    params: Mapping[str, Any]
    function: RewardTransformFunction

    def __call__(self, trajectories: Sequence[Trajectory], state: MutableMapping[str, Any]) -> list[Trajectory]:
        takes_state = STATE_PARAMETER in inspect.signature(self.function).parameters
        return list(self.function(trajectories, **self.params, **({STATE_PARAMETER: state} if takes_state else {})))


def parse_reward_transforms(entries: Sequence[Mapping[str, Any]]) -> tuple[RewardTransform, ...]:
    """Validate the `rewards` config list into typed transforms; errors name the entry and the fix."""
    parsed = []
    for index, entry in enumerate(entries):
        where = f"rewards[{index}]"
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise ValueError(f"{where} must be a mapping with a 'name', got {entry!r}")
        given = {key: value for key, value in entry.items() if key != "name"}
        try:
            function, params = REWARD_TRANSFORMS.resolve(str(entry["name"]), given)
        except (UnknownNameError, ParamsError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
        transform = RewardTransform(str(entry["name"]), params, function)
        transform([], {})  # the transform's own value checks, before any rollout
        parsed.append(transform)
    return tuple(parsed)


def _as_channel(channel: GateChannel | Mapping[str, Any]) -> GateChannel:
    if isinstance(channel, GateChannel):
        return channel
    if isinstance(channel, Mapping) and set(channel) <= {"name", "threshold"} and "name" in channel:
        threshold = channel.get("threshold")
        return GateChannel(str(channel["name"]), None if threshold is None else float(threshold))
    raise ValueError(f"gra: a channel is {{name: ..., threshold: ...}}, got {channel!r}")


class RewardPipeline:
    """The configured transforms, in order, plus the state they carry across steps."""

    def __init__(self, transforms: Sequence[RewardTransform] = ()) -> None:
        self.transforms = tuple(transforms)
        self.state: dict[str, Any] = {}
        """Shared by the transforms that declare `state`; JSON-serialisable, saved in checkpoints."""

    @property
    def best_calls(self) -> dict[str, int]:
        """OTC-GRPO's n per task_id: the fewest tool calls of any correct trajectory seen so far."""
        return dict(self.state.get("otc_best_calls", {}))

    @classmethod
    def from_config(cls, entries: Sequence[Mapping[str, Any]]) -> RewardPipeline:
        return cls(parse_reward_transforms(entries))

    def apply(self, trajectories: Sequence[Trajectory]) -> tuple[list[Trajectory], dict[str, float]]:
        """New trajectories after every transform, and the step metrics of tool use (empty when no
        transform is configured, so runs without `rewards` log exactly what they did before)."""
        if not self.transforms:
            return list(trajectories), {}
        transformed = list(trajectories)
        for transform in self.transforms:
            transformed = transform(transformed, self.state)
        return transformed, reward_metrics(transformed)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state for the checkpoint's trainer_state."""
        return dict(self.state)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)


def reward_metrics(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """`tool_calls_mean` and OTC's `tool_productivity` = correct answers / tool calls (only logged when
    there were tool calls), over trainable trajectories."""
    trainable = [t for t in trajectories if t.trainable]
    if not trainable:
        return {}
    calls = [tool_call_count(t) for t in trainable]
    metrics = {"tool_calls_mean": statistics.fmean(calls)}
    if sum(calls):
        metrics["tool_productivity"] = sum(t.success for t in trainable) / sum(calls)
    gates = [t.metrics["gra_gate_open"] for t in trainable if "gra_gate_open" in t.metrics]
    if gates:
        metrics["gra_gate_open_rate"] = statistics.fmean(gates)
    penalties = [t.metrics["overlong_penalty"] for t in trainable if "overlong_penalty" in t.metrics]
    if penalties:
        metrics["overlong_penalty_mean"] = statistics.fmean(penalties)
    return metrics


__all__ = [
    "REWARD_TRANSFORMS",
    "REWARD_TRANSFORM_GROUP",
    "GateChannel",
    "RewardPipeline",
    "RewardTransform",
    "format_penalty",
    "gated_reward_accumulation",
    "otc_grpo",
    "otc_grpo_running",
    "otc_grpo_tool_reward",
    "otc_ppo",
    "otc_ppo_tool_reward",
    "overlong_penalty",
    "overlong_reward",
    "parse_reward_transforms",
    "reward_metrics",
    "tool_call_count",
]
