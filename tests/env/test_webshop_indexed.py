"""WebShop's indexed-action format: numbered actions, an expert that buys right by number, `model=tiny`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agentrl.environments.webshop import WebShop
from agentrl.environments.webshop.catalogue import SPLITS
from agentrl.environments.webshop.indexed_actions import listed_actions, search_queries
from agentrl.environments.webshop.site import Session

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from agentrl.types import StepResult, Task
from tests.env.test_webshop import tagged
from tests.fixtures.short_runs import short_run, trained_step_metrics

SPEC = WebShop(num_products=1000, seed=0, action_format="index")


def expert_by_number(spec: WebShop, task: Task, answer: str = "{}", max_steps: int = 12) -> list[StepResult]:
    """The text expert's path (open the goal product, click its options, buy) played by number.

    It searches the whole instruction (the first fixed query) and pages through the results until the
    goal product shows. Every number is read from the observation, so the rendering is checked too.
    """
    goal = spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]

    def wanted(actions: list[str], clicked: set[str]) -> str:
        if actions[0].startswith("search["):
            return actions[0]
        for target in (goal.asin.lower(), *goal.option_choice.values(), "buy now"):
            if f"click[{target}]" in actions and target not in clicked:
                return f"click[{target}]"
        return "click[next >]"

    async def episode() -> list[StepResult]:
        env = spec.make_env()
        try:
            results = [await env.reset(task)]
            clicked: set[str] = set()
            while not results[-1].done and len(results) <= max_steps:
                assert env.session is not None
                actions = listed_actions(env.session)
                action = wanted(actions, clicked)
                number = actions.index(action) + 1
                assert f"[{number}] {action}" in results[-1].observation
                clicked.add(action.removeprefix("click[").removesuffix("]"))
                results.append(await env.step(answer.format(number)))
            return results
        finally:
            await env.close()

    return asyncio.run(episode())


def goal_is_found(spec: WebShop, task: Task) -> bool:
    goal = spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]
    query = search_queries(goal.instruction)[0]
    return goal.asin in {product.asin for product in spec.catalogue.search(query, 50)}


@pytest.mark.parametrize("split", SPLITS)
def test_expert_by_number_scores_reward_one_on_sampled_goals(split: str) -> None:
    tasks = [SPEC.task(split, index) for index in range(0, 100, 9)]
    found = [task for task in tasks if goal_is_found(SPEC, task)]
    assert len(found) >= 0.8 * len(tasks), "the instruction query should find most goal products"
    for task in found:
        results = expert_by_number(SPEC, task)
        assert all(r.failure is None for r in results)
        assert results[-1].done and results[-1].reward == 1.0, (task.prompt, results[-1].observation)


@pytest.mark.parametrize(
    "prompt, answer",
    [
        ("gigpo", "{}"),
        ("gigpo", "[{}]"),
        ("plain", "{}"),
        ("plain", "[{}] click[the action copied from the list]"),  # the number leads; the rest is ignored
        ("plain", "<ACTION>9</ACTION> no: <action>[{}]</action>"),  # the last block wins
    ],
)
def test_numbers_are_answered_bare_bracketed_or_tagged_under_both_prompts(prompt: str, answer: str) -> None:
    spec = WebShop(num_products=200, seed=1, prompt=prompt, action_format="index")
    task = spec.task("train", 0)
    assert expert_by_number(spec, task, answer)[-1].reward == 1.0
    if prompt == "gigpo":
        assert expert_by_number(spec, task, tagged(answer))[-1].reward == 1.0


def test_search_page_offers_the_instruction_and_its_product_part() -> None:
    instruction = (
        "find me gluten free beef jerky with flavor name honey bbq, in size pack of 2, and price lower"
    )
    assert search_queries(instruction) == [
        instruction,
        "find me gluten free beef jerky with flavor name honey bbq",
    ]
    assert search_queries("i need hiking boots") == ["i need hiking boots"]
    start = expert_by_number(SPEC, SPEC.task("train", 0), max_steps=0)[0]
    goal = SPEC.catalogue.goals["train"][0]
    assert f"'[1] search[{goal.instruction}]'" in start.observation
    assert "search[<your query>]" not in start.observation


@pytest.mark.parametrize(
    "reply", ["0", "99", "buy", "search[shoes]", "2.0", "<action>1", "<think>1</think>", "<action>one</action>"]
)
def test_invalid_numbers_are_format_failures_that_keep_the_page(reply: str) -> None:
    async def first_step() -> tuple[StepResult, StepResult]:
        env = SPEC.make_env()
        start = await env.reset(SPEC.task("train", 0))
        return start, await env.step(reply)

    start, failed = asyncio.run(first_step())
    assert failed.failure == "format" and failed.info == {} and failed.reward == -0.1 and not failed.done
    assert failed.state_key == start.state_key
    assert "Invalid action" in failed.observation and "'[1] search[" in failed.observation


def test_state_keys_are_the_page_state_as_in_text_mode() -> None:
    task = SPEC.task("train", 2)
    keys = [r.state_key for r in expert_by_number(SPEC, task)]
    goal = SPEC.catalogue.goals["train"][2]
    assert keys[0] == f"{task.task_id}|search||1||"
    assert keys[1] == f"{task.task_id}|results|{goal.instruction}|1||"


def test_vocabulary_holds_every_number_a_page_can_list() -> None:
    goal = SPEC.catalogue.goals["train"][0]
    item_pages = [Session(SPEC.catalogue, goal, page="item", asin=asin) for asin in SPEC.catalogue.products]
    results_page = Session(
        SPEC.catalogue, goal, page="results", page_number=2, results=list(SPEC.catalogue.products)
    )
    longest = max(len(listed_actions(page)) for page in [*item_pages, results_page])
    vocabulary = set(SPEC.vocabulary())
    assert {str(n) for n in range(1, longest + 1)} <= vocabulary
    assert {f"[{n}]" for n in range(1, longest + 1)} <= vocabulary


def test_unknown_action_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action_format 'number'; webshop has: text, index"):
        WebShop(action_format="number")


def test_tiny_model_plays_valid_actions_by_number(tmp_path: Path) -> None:
    """The reason for the format: in text mode every turn of model=tiny is invalid."""
    config, resolved = load_config(
        short_run(
            tmp_path,
            "env=webshop",
            "algo=gigpo",
            "env.params.action_format=index",
            "env.params.max_turns=4",
            "env.params.num_products=300",
        )
    )
    metrics = trained_step_metrics(train(config, resolved))
    assert [m["step"] for m in metrics] == [1, 2]
    assert min(m["format_failure_rate"] for m in metrics) < 1.0
