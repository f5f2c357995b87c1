"""ToolRL's fine-grained tool-call reward (Qian et al. 2025, "ToolRL: Reward is All Tool Learning
Needs"), an option of the bfcl environment: `env.params.reward=toolrl`.

    R = R_format + R_correct,  R_format in {0, 1},  R_correct in [-3, 3]

R_format is 1 when the reply parses. R_correct scores the predicted calls P against the expected G:

    r_name  = |N_G ∩ N_P| / |N_G ∪ N_P|                  (tool names as sets)
    r_param = Σ_j |keys(G_j) ∩ keys(P_j)| / |keys(G_j) ∪ keys(P_j)|
    r_value = Σ_j Σ_k 1[G_j[k] == P_j[k]]                  (k over keys(G_j))
    R_correct = 6 · (r_name + r_param + r_value) / S_max − 3,   S_max = 1 + |G| + Σ_j |keys(G_j)|

with each expected call G_j paired to the best-scoring unused predicted call of the same name. A value
matches when it is one of BFCL's acceptable values (`ast_match` equality). Irrelevance rows (G empty)
score R_correct = 3 for no call, -3 otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentrl.environments.bfcl.ast_match import values_match

from agentrl.tools import ParsedToolCall

FORMAT_REWARD = 1.0


def toolrl_reward(
    calls: Sequence[ParsedToolCall] | None, ground_truth: Sequence[dict[str, dict[str, list[Any]]]]
) -> float:
    """R_format + R_correct; `calls=None` means the reply did not parse (R = 0 + the -3 floor)."""
    if calls is None:
        return -3.0
    return FORMAT_REWARD + _correctness(calls, ground_truth)


def _correctness(
    calls: Sequence[ParsedToolCall], ground_truth: Sequence[dict[str, dict[str, list[Any]]]]
) -> float:
    if not ground_truth:
        return 3.0 if not calls else -3.0
    expected = [next(iter(item.items())) for item in ground_truth]
    expected_names = {name for name, _ in expected}
    called_names = {call.name for call in calls}
    r_name = len(expected_names & called_names) / len(expected_names | called_names)
    unused = list(calls)
    r_param = r_value = 0.0
    for name, allowed in expected:
        candidates = [call for call in unused if call.name == name]
        if not candidates:
            continue
        best = max(candidates, key=lambda call: _pair_score(call, allowed))
        unused.remove(best)
        # An optional parameter (`""` acceptable) left out is not a missing key.
        expected_keys = {
            key for key, options in allowed.items() if "" not in options or key in best.arguments
        }
        keys = expected_keys | set(best.arguments)
        r_param += len(expected_keys & set(best.arguments)) / len(keys) if keys else 1.0
        r_value += _value_matches(best, allowed)
    s_max = 1 + len(expected) + sum(len(allowed) for _, allowed in expected)
    return 6.0 * (r_name + r_param + r_value) / s_max - 3.0


def _value_matches(call: ParsedToolCall, allowed: dict[str, list[Any]]) -> int:
    return sum(
        1
        for key, options in allowed.items()
        if (key in call.arguments and any(values_match(call.arguments[key], option) for option in options))
        or (key not in call.arguments and "" in options)
    )


def _pair_score(call: ParsedToolCall, allowed: dict[str, list[Any]]) -> float:
    return len(set(allowed) & set(call.arguments)) + _value_matches(call, allowed)
