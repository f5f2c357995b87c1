"""The episode-list query: one line of `key=value` terms, typed in the viewer or given to `--filter`.

A line of text rather than a form so that the same query works in the terminal app, in a pipe
(`agentrl replay --print --filter ...`) and in a bug report. Examples:

    success=no failure=format          failed episodes with an unparseable action
    reward>=0.5 env=frozenlake sort=-turns
    task=train-23 step=12              (a bare word is a task-id substring too: `train-23`)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentrl.replay.index import EpisodeSummary
from agentrl.types import FAILURE_KINDS

SORT_KEYS: dict[str, Callable[[EpisodeSummary], object]] = {
    "step": lambda e: (e.step, e.position),
    "reward": lambda e: e.outcome_reward,
    "turns": lambda e: e.turns,
    "task": lambda e: e.task_id,
    "advantage": lambda e: e.advantage_mean if e.advantage_mean is not None else float("-inf"),
}
KEYS = ("step", "env", "task", "reward", "success", "failure", "sort")
TERM = re.compile(r"^(\w+)(>=|<=|=|>|<)(.*)$")
YES, NO = ("yes", "true", "1"), ("no", "false", "0")


@dataclass(frozen=True)
class EpisodeQuery:
    """A parsed query; `apply` filters then sorts."""

    text: str = ""
    predicates: tuple[Callable[[EpisodeSummary], bool], ...] = field(default=(), compare=False)
    sort_key: str = "step"
    descending: bool = False

    def apply(self, episodes: Sequence[EpisodeSummary]) -> list[EpisodeSummary]:
        kept = [e for e in episodes if all(predicate(e) for predicate in self.predicates)]
        if self.sort_key != "step" or self.descending:
            kept.sort(key=SORT_KEYS[self.sort_key], reverse=self.descending)  # type: ignore[arg-type]
        return kept


def parse_query(text: str) -> EpisodeQuery:
    """Parse a query line; a bad term raises `ValueError` saying which term and what is valid."""
    predicates: list[Callable[[EpisodeSummary], bool]] = []
    sort_key, descending = "step", False
    for term in text.split():
        match = TERM.match(term)
        if match is None:
            predicates.append(_contains(term))
            continue
        key, operator, value = match.groups()
        if key not in KEYS:
            raise ValueError(f"unknown filter key {key!r} in {term!r}; valid keys: {', '.join(KEYS)}")
        if key == "reward":
            predicates.append(_compare_reward(operator, _number(term, value)))
            continue
        if operator != "=":
            raise ValueError(f"{term!r}: only 'reward' takes {operator}; use {key}=...")
        if key == "sort":
            descending = value.startswith("-")
            sort_key = value.lstrip("-")
            if sort_key not in SORT_KEYS:
                raise ValueError(
                    f"{term!r}: cannot sort by {sort_key!r}; choose one of {', '.join(SORT_KEYS)}"
                )
        elif key == "step":
            step = int(_number(term, value))
            predicates.append(lambda e, step=step: e.step == step)
        elif key == "env":
            predicates.append(lambda e, value=value: e.env_name == value)
        elif key == "task":
            predicates.append(_contains(value))
        elif key == "success":
            predicates.append(_success(term, value.lower()))
        else:
            predicates.append(_failure(term, value))
    return EpisodeQuery(text, tuple(predicates), sort_key, descending)


def _contains(fragment: str) -> Callable[[EpisodeSummary], bool]:
    return lambda e: fragment in e.task_id


def _number(term: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{term!r}: {value!r} is not a number") from None


def _compare_reward(operator: str, bound: float) -> Callable[[EpisodeSummary], bool]:
    compare: dict[str, Callable[[float], bool]] = {
        ">=": lambda r: r >= bound,
        "<=": lambda r: r <= bound,
        ">": lambda r: r > bound,
        "<": lambda r: r < bound,
        "=": lambda r: r == bound,
    }
    check = compare[operator]
    return lambda e: check(e.outcome_reward)


def _success(term: str, value: str) -> Callable[[EpisodeSummary], bool]:
    if value not in YES + NO:
        raise ValueError(f"{term!r}: success is yes or no")
    wanted = value in YES
    return lambda e: e.success == wanted


def _failure(term: str, value: str) -> Callable[[EpisodeSummary], bool]:
    """An episode with an unparseable action usually goes on (its own failure stays None), so
    `failure=format` also matches episodes with any format-failed turn."""
    if value == "none":
        return lambda e: e.failure is None and e.format_failures == 0
    if value == "any":
        return lambda e: e.failure is not None or e.format_failures > 0
    if value not in FAILURE_KINDS:
        raise ValueError(f"{term!r}: failure is one of {', '.join(FAILURE_KINDS)}, any or none")
    if value == "format":
        return lambda e: e.failure == "format" or e.format_failures > 0
    return lambda e: e.failure == value
