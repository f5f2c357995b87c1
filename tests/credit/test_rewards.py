"""Reward transforms (ALGORITHMS.md §2): hand-computed examples, the §5 identities, the OTC running minimum."""

from __future__ import annotations

import copy
import math

import pytest

from agentrl.credit.rewards import (
    GateChannel,
    RewardPipeline,
    format_penalty,
    gated_reward_accumulation,
    otc_grpo,
    otc_grpo_tool_reward,
    otc_ppo,
    otc_ppo_tool_reward,
    overlong_penalty,
    overlong_reward,
    parse_reward_transforms,
    tool_call_count,
)
from agentrl.types import StepResult, ToolCall, Trajectory, Turn


def turn(
    reward: float = 0.0, *, calls: int = 0, channels: dict[str, float] | None = None, failure=None, score=None
) -> Turn:
    tool_calls = tuple(ToolCall(name="search", arguments={}, ok=True) for _ in range(calls))
    result = StepResult(observation="", reward=reward, tool_calls=tool_calls, reward_channels=channels or {}, score=score)
    return Turn([1], [2], [-0.5], 0, result=result, failure=failure)


def trajectory(turns: list[Turn], *, outcome: float | None = None, success: bool = False, task: str = "t0") -> Trajectory:
    return Trajectory(
        task_id=task, group_id=f"g-{task}", env_name="test", seed=0, turns=turns,
        outcome_reward=sum(t.reward for t in turns) if outcome is None else outcome,
        metrics={"success": float(success)},
    )


# --- format penalty ---------------------------------------------------------------------------------


def test_format_penalty_prices_only_unpriced_format_turns_and_recomputes_the_outcome() -> None:
    original = trajectory([turn(0.0, failure="format"), turn(-0.1, failure="format"), turn(1.0)])
    before = copy.deepcopy(original)
    [penalised] = format_penalty([original], penalty=0.2)
    assert [t.reward for t in penalised.turns] == [-0.2, -0.1, 1.0]  # the env's own −0.1 is not doubled
    assert penalised.outcome_reward == pytest.approx(0.7)
    assert original == before  # inputs untouched


def test_format_penalty_keeps_an_env_score_as_the_outcome() -> None:
    [penalised] = format_penalty([trajectory([turn(0.0, failure="format"), turn(0.0, score=0.8)], outcome=0.8)])
    assert [t.reward for t in penalised.turns] == [-0.1, 0.0]
    assert penalised.outcome_reward == 0.8


# --- G-RA -------------------------------------------------------------------------------------------

TWO_LEVELS = [GateChannel("outcome", 1.0), GateChannel("format")]


@pytest.mark.parametrize(("outcome", "expected"), [(1.0, 1.0 + 0.5), (0.999, 0.999)])
def test_gra_two_levels_at_and_just_below_the_threshold(outcome: float, expected: float) -> None:
    episode = trajectory([turn(0.0, channels={"format": 0.2}), turn(0.0, channels={"format": 0.3})], outcome=outcome)
    [gated] = gated_reward_accumulation([episode], channels=TWO_LEVELS)
    assert gated.outcome_reward == pytest.approx(expected)  # R = r_out + 1[r_out ≥ δ]·Σ_t r_step_t
    # a closed gate zeroes the step rewards in the turn rewards too (GiGPO's returns see zeros)
    assert [t.reward for t in gated.turns] == ([0.2, 0.3] if outcome >= 1.0 else [0.0, 0.0])


def test_gra_multi_level_gates_stop_at_the_first_failed_level() -> None:
    channels = [GateChannel("outcome", 1.0), GateChannel("format", 0.5), GateChannel("tool_ok")]
    steps = [turn(channels={"format": 0.4, "tool_ok": 2.0})]
    [low_format] = gated_reward_accumulation([trajectory(steps, outcome=1.0)], channels=channels)
    assert low_format.outcome_reward == pytest.approx(1.0 + 0.4)  # format counts, tool_ok gated by format < 0.5
    steps = [turn(channels={"format": 0.5, "tool_ok": 2.0})]
    [all_open] = gated_reward_accumulation([trajectory(steps, outcome=1.0)], channels=channels)
    assert all_open.outcome_reward == pytest.approx(1.0 + 0.5 + 2.0)
    [closed] = gated_reward_accumulation([trajectory(steps, outcome=0.0)], channels=channels)
    assert closed.outcome_reward == 0.0 and closed.turns[0].reward == 0.0


def test_gra_with_the_gate_always_open_is_the_direct_sum() -> None:
    channels = [GateChannel("outcome", -math.inf), GateChannel("format", -math.inf), GateChannel("tool_ok")]
    steps = [turn(0.1, channels={"format": -0.3, "tool_ok": 0.7}), turn(1.0, channels={"tool_ok": -0.2})]
    [gated] = gated_reward_accumulation([trajectory(steps)], channels=channels)
    assert gated.outcome_reward == pytest.approx(1.1 - 0.3 + 0.7 - 0.2)
    assert [t.reward for t in gated.turns] == pytest.approx([0.1 - 0.3 + 0.7, 1.0 - 0.2])


def test_gra_needs_outcome_first_and_thresholds_on_gating_channels() -> None:
    with pytest.raises(ValueError, match="first .* must be 'outcome'"):
        gated_reward_accumulation([], channels=[GateChannel("format", 0.0)])
    with pytest.raises(ValueError, match="'outcome' gates the channels below it and needs a threshold"):
        gated_reward_accumulation([], channels=[GateChannel("outcome"), GateChannel("format")])


# --- OTC --------------------------------------------------------------------------------------------


def test_otc_tool_rewards_by_hand() -> None:
    assert otc_ppo_tool_reward(0) == 1.0
    assert otc_ppo_tool_reward(2, c=1.0) == pytest.approx(math.cos(2 * math.pi / 5))
    assert otc_grpo_tool_reward(0, 0) == 1.0  # f = n = 0
    assert otc_grpo_tool_reward(3, 0, c=1.0) == pytest.approx(math.cos(3 * math.pi / 7))  # n = 0: OTC-PPO
    assert otc_grpo_tool_reward(3, 1) == pytest.approx(math.sin(1.5 * math.pi / 2))  # f = 2·1·3/4 = 1.5
    assert otc_grpo_tool_reward(0, 2) == 0.0  # f = 0, sin 0


@pytest.mark.parametrize("n", [1, 2, 5])
def test_otc_r_tool_is_one_at_m_equal_n(n: int) -> None:
    assert otc_grpo_tool_reward(n, n) == pytest.approx(1.0)


def test_otc_counts_tool_call_records_not_text() -> None:
    episode = trajectory([turn(calls=2), turn(calls=1), turn()])
    episode.turns[2].action_text = "<tool_call>search</tool_call>"  # text is never parsed
    assert tool_call_count(episode) == 3


def test_otc_ppo_scales_correct_answers_and_zeroes_wrong_ones() -> None:
    right = trajectory([turn(1.0, calls=2)], success=True)
    wrong = trajectory([turn(0.0, calls=0)], success=False)
    scored = otc_ppo([right, wrong], alpha=2.0)
    assert scored[0].outcome_reward == pytest.approx(2.0 * math.cos(2 * math.pi / 5))
    assert scored[1].outcome_reward == 0.0
    assert right.outcome_reward == 1.0  # input untouched


def test_otc_grpo_running_minimum_across_two_steps_and_through_the_pipeline_state() -> None:
    pipeline = RewardPipeline(parse_reward_transforms([{"name": "otc_grpo"}]))
    step1 = [trajectory([turn(1.0, calls=m)], success=ok) for m, ok in [(3, True), (5, True), (1, False)]]
    scored, metrics = pipeline.apply(step1)
    assert pipeline.best_calls == {"t0": 3}  # the wrong 1-call answer does not count
    assert [t.outcome_reward for t in scored] == pytest.approx([1.0, math.sin((30 / 8) * math.pi / 6), 0.0])
    assert metrics["tool_calls_mean"] == pytest.approx(3.0)
    assert metrics["tool_productivity"] == pytest.approx(2 / 9)

    resumed = RewardPipeline(pipeline.transforms)
    resumed.load_state_dict(pipeline.state_dict())
    # step 2 has no 2-call answer: n stays 3 from step 1 (a group-only minimum would be 4)
    step2 = [trajectory([turn(1.0, calls=m)], success=True) for m in (4, 6)]
    scored, _ = resumed.apply(step2)
    assert resumed.best_calls == {"t0": 3}
    assert scored[0].outcome_reward == pytest.approx(math.sin((24 / 7) * math.pi / 6))
    scored, _ = resumed.apply([trajectory([turn(1.0, calls=2)], success=True)])
    assert resumed.best_calls == {"t0": 2} and scored[0].outcome_reward == pytest.approx(1.0)


def test_otc_grpo_does_not_change_the_state_it_was_given() -> None:
    best = {"t0": 4}
    _, updated = otc_grpo([trajectory([turn(calls=2)], success=True)], best_calls=best)
    assert best == {"t0": 4} and updated == {"t0": 2}


# --- DAPO soft overlong punishment --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, 0.0),
        (16, 0.0),  # exactly L_max − L_cache = 20 − 4: no penalty yet
        (17, -0.25),  # one token into the cache: (16 − 17) / 4
        (18, -0.5),
        (20, -1.0),  # exactly L_max: the linear zone's end, (16 − 20) / 4
        (21, -1.0),  # above L_max: the hard −1
        (500, -1.0),
    ],
)
def test_overlong_reward_below_at_and_above_the_thresholds(length: int, expected: float) -> None:
    assert overlong_reward(length, max_length=20, cache=4) == expected


def test_overlong_penalty_counts_action_tokens_of_all_turns_and_shifts_only_the_outcome() -> None:
    long_turns = [Turn([1], [2] * 9, [-0.5] * 9, 0, result=StepResult("", reward=0.0)) for _ in range(2)]
    short = trajectory([turn(1.0)])  # 1 action token
    long = trajectory(long_turns, outcome=1.0)  # 18 action tokens
    out_short, out_long = overlong_penalty([short, long], max_length=20, cache=4)
    assert out_short.outcome_reward == 1.0 and out_short.metrics["overlong_penalty"] == 0.0
    assert out_long.outcome_reward == 0.5 and out_long.metrics["overlong_penalty"] == -0.5  # 1 + (16 − 18)/4
    assert [t.reward for t in out_long.turns] == [0.0, 0.0] and long.outcome_reward == 1.0  # inputs untouched
    [_, via_pipeline], metrics = RewardPipeline(
        parse_reward_transforms([{"name": "overlong", "max_length": 20, "cache": 4}])
    ).apply([short, long])
    assert via_pipeline.outcome_reward == 0.5 and metrics["overlong_penalty_mean"] == -0.25
    with pytest.raises(ValueError, match="0 < cache ≤ max_length"):
        parse_reward_transforms([{"name": "overlong", "max_length": 4, "cache": 8}])


def test_untrainable_trajectories_pass_through_unchanged() -> None:
    broken = trajectory([turn(0.0, failure="format")])
    broken.failure = "infra"
    pipeline = RewardPipeline(
        parse_reward_transforms([{"name": "format_penalty"}, {"name": "otc_grpo"}, {"name": "overlong", "cache": 1}])
    )
    [out], _ = pipeline.apply([broken])
    assert out is broken


def test_the_pipeline_runs_in_declared_order() -> None:
    entries = [
        {"name": "format_penalty", "penalty": 0.5},
        {"name": "gra", "channels": [{"name": "outcome", "threshold": 0.0}, {"name": "bonus"}]},
    ]
    episode = trajectory([turn(0.0, failure="format", channels={"bonus": 1.0}), turn(1.0)])
    [out], metrics = RewardPipeline(parse_reward_transforms(entries)).apply([episode])
    # penalty first: outcome 1.0 − 0.5 = 0.5 ≥ 0 opens the gate for the bonus
    assert out.outcome_reward == pytest.approx(1.5)
    assert [t.reward for t in out.turns] == pytest.approx([0.5, 1.0])
    assert metrics["gra_gate_open_rate"] == 1.0 and "tool_productivity" not in metrics


def test_an_empty_pipeline_is_the_identity_and_logs_nothing() -> None:
    episode = trajectory([turn(1.0)])
    [out], metrics = RewardPipeline().apply([episode])
    assert out is episode and metrics == {}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "otc_grop"}], "unknown reward transform 'otc_grop' (did you mean 'otc_grpo'?); valid: format_penalty, gra"),
        ([{"name": "otc_grpo", "alpa": 1.0}], "unknown parameter 'alpa' (did you mean 'alpha'?) for reward transform 'otc_grpo'; valid: alpha, c"),
        ([{"alpha": 1.0}], "rewards[0] must be a mapping with a 'name'"),
        ([{"name": "gra"}], "'gra' needs channels"),
        ([{"name": "otc_ppo", "c": 0}], "c must be > 0"),
        ([{"name": "format_penalty", "penalty": "big"}], "format_penalty.penalty must be a number"),
    ],
)
def test_config_errors_name_the_problem(entries: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=None) as error:
        parse_reward_transforms(entries)
    assert message in str(error.value)
