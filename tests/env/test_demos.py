"""Every built-in environment's expert demonstrations win when played through a real episode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agentrl.environments.bfcl import BFCL
from agentrl.environments.frozenlake import FrozenLake
from agentrl.environments.search_qa import SearchQA
from agentrl.environments.textarena import TextArena
from agentrl.environments.webshop import WebShop

from agentrl.env.protocol import EnvSpec
from agentrl.tools.parsing import TOOL_CALL_FORMATS, ParsedToolCall, parse_tool_calls, write_tool_calls
from agentrl.types import StepResult
from tests.fixtures.episodes import play


def demonstrated(spec: EnvSpec, split: str, indices: range) -> Iterator[tuple[list[str], list[StepResult]]]:
    """(demonstration, results of playing it) for every task in `indices` that has one."""
    for index in indices:
        task = spec.task(split, index)
        replies = spec.demonstration(task)  # type: ignore[attr-defined]
        if replies is not None:
            yield replies, play(spec, task, replies)


def assert_wins(spec: EnvSpec, split: str, indices: range, at_least: int) -> None:
    played = list(demonstrated(spec, split, indices))
    assert len(played) >= at_least, f"only {len(played)} of {len(indices)} tasks have a demonstration"
    for replies, results in played:
        assert all(r.failure is None for r in results), [r.observation[:120] for r in results]
        assert results[-1].done and results[-1].success is True, (replies, results[-1].observation)
        assert len(results) == len(replies) + 1, "the episode ended before the demonstration did"


@pytest.mark.parametrize(("size", "split"), [(4, "train"), (4, "eval"), (8, "train")])
def test_frozenlake_shortest_safe_path_wins(size: int, split: str) -> None:
    spec = FrozenLake(size=size)
    assert_wins(spec, split, range(20), at_least=20)
    assert len(spec.demonstration(spec.task(split, 0))) >= 2 * (size - 1), "S to G is at least 2(n−1) moves"


def test_frozenlake_has_no_demonstration_on_slippery_ice() -> None:
    spec = FrozenLake(is_slippery=True)
    assert spec.demonstration(spec.task("train", 0)) is None


@pytest.mark.parametrize("params", [{}, {"prompt": "plain"}, {"action_format": "index"}])
def test_webshop_expert_buys_the_goal_with_its_options(params: dict[str, str]) -> None:
    spec = WebShop(num_products=1000, seed=0, **params)
    assert_wins(spec, "train", range(0, 200, 10), at_least=18)
    assert_wins(spec, "eval", range(0, 100, 10), at_least=9)
    for _, results in demonstrated(spec, "train", range(3)):
        assert results[-1].reward == 1.0 and results[-1].score == 1.0


@pytest.mark.parametrize("params", [{}, {"action_format": "tool_call"}])
def test_search_qa_expert_searches_the_gold_titles_then_answers(params: dict[str, str]) -> None:
    spec = SearchQA(**params)
    assert_wins(spec, "train", range(20), at_least=20)
    _, results = next(demonstrated(spec, "eval", range(1)))
    searched = [call.arguments["query"] for r in results for call in r.tool_calls]
    assert searched == spec.task("eval", 0).payload["supporting_titles"]


@pytest.mark.parametrize("call_format", TOOL_CALL_FORMATS)
def test_bfcl_gold_call_matches(call_format: str) -> None:
    spec = BFCL(call_format=call_format)
    assert_wins(spec, "train", range(0, 1000, 7), at_least=140)
    assert_wins(spec, "eval", range(spec.num_tasks("eval")), at_least=spec.num_tasks("eval") - 2)


def test_bfcl_rows_whose_answer_contradicts_their_docs_have_no_demonstration() -> None:
    spec = BFCL()
    missing = [
        spec.task(split, i).task_id
        for split in ("train", "eval")
        for i in range(spec.num_tasks(split))
        if spec.demonstration(spec.task(split, i)) is None
    ]
    assert len(missing) == 7 and "bfcl-parallel_multiple_12" in missing


@pytest.mark.parametrize(("game", "moves"), [("TowerOfHanoi-v0", 7), ("TowerOfHanoi-v0-medium", 15)])
def test_textarena_tower_of_hanoi_solver_wins(game: str, moves: int) -> None:
    spec = TextArena(game=game)
    assert_wins(spec, "train", range(2), at_least=2)
    assert len(spec.demonstration(spec.task("eval", 0))) == moves


def test_textarena_games_without_a_solver_have_no_demonstration() -> None:
    spec = TextArena(game="GuessTheNumber-v0")
    assert spec.demonstration(spec.task("train", 0)) is None


@pytest.mark.parametrize("call_format", TOOL_CALL_FORMATS)
def test_written_tool_calls_parse_back(call_format: str) -> None:
    calls = [ParsedToolCall("search", {"query": "Paris", "k": 3}), ParsedToolCall("m.add", {"x": [1.5], "y": True})]
    for written in (calls[:1], calls):
        assert parse_tool_calls(write_tool_calls(written, call_format), call_format) == written
