"""WebShop through the async Env API: the generated catalogue, an expert that buys right, the loader."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from agentrl.environments.webshop import WebShop
from agentrl.environments.webshop.catalogue import SPLITS

from agentrl.env import EnvSpec
from agentrl.types import Task
from tests.fixtures.episodes import play

SPEC = WebShop(num_products=1000, seed=0)


def tagged(action: str) -> str:
    return f"<think>the goal says so</think><action>{action}</action>"


def expert_actions(spec: WebShop, task: Task, wrap: Callable[[str], str] = tagged) -> list[str]:
    """Search the goal product's title, open it, click each goal option, buy."""
    goal = spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]
    title = spec.catalogue.products[goal.asin].title
    clicks = [goal.asin.lower(), *goal.option_choice.values(), "buy now"]
    return [wrap(f"search[{title}]"), *(wrap(f"click[{target}]") for target in clicks)]


def test_generated_catalogue_has_the_five_categories_and_disjoint_splits() -> None:
    assert isinstance(SPEC, EnvSpec)
    products = SPEC.catalogue.products
    assert len(products) == 1000
    assert set(Counter(p.category for p in products.values())) == {
        "beauty",
        "food",
        "fashion",
        "furniture",
        "electronics",
    }
    assert all(p.attributes and p.options and p.pricing for p in products.values())
    train = {g.asin for g in SPEC.catalogue.goals["train"]}
    evaluation = {g.asin for g in SPEC.catalogue.goals["eval"]}
    # 125 families of a goal product and its seven distractors: 125 goals, round(12.5) = 12 of them eval.
    assert len(evaluation) == 12 and not train & evaluation
    assert SPEC.num_tasks("train") == 113 and SPEC.task("train", 113) == SPEC.task("train", 0)
    assert WebShop(num_products=1000, seed=0).task("eval", 3).prompt == SPEC.task("eval", 3).prompt


@pytest.mark.parametrize("split", SPLITS)
def test_expert_scores_reward_one_on_sampled_goals(split: str) -> None:
    for index in range(0, 100, 9):
        task = SPEC.task(split, index)
        results = play(SPEC, task, expert_actions(SPEC, task))
        assert all(r.failure is None for r in results)
        final = results[-1]
        assert final.done and final.reward == 1.0, (task.prompt, final.observation)
        assert final.success is True and final.score == 1.0


def test_buying_without_the_options_earns_partial_reward() -> None:
    task = next(SPEC.task("train", i) for i in range(50) if SPEC.catalogue.goals["train"][i].options)
    goal = SPEC.catalogue.goals["train"][task.payload["goal"]]
    title = SPEC.catalogue.products[goal.asin].title
    actions = [tagged(f"search[{title}]"), tagged(f"click[{goal.asin.lower()}]"), tagged("click[buy now]")]
    final = play(SPEC, task, actions)[-1]
    expected = (len(goal.attributes) + 1) / (len(goal.attributes) + len(goal.options) + 1)
    assert final.done and final.reward == pytest.approx(expected)
    assert final.success is False


@pytest.mark.parametrize(
    "reply",
    [
        "search[shoes]",  # no tags in the gigpo prompt
        tagged("click[buy now]"),  # not clickable on the search page
        tagged("buy shoes"),  # neither search[...] nor click[...]
    ],
)
def test_invalid_actions_are_format_failures_that_keep_the_page(reply: str) -> None:
    task = SPEC.task("train", 0)
    start, failed = play(SPEC, task, [reply])
    assert failed.failure == "format" and failed.info == {} and failed.reward == -0.1 and not failed.done
    assert failed.state_key == start.state_key
    assert "Invalid action" in failed.observation and "'search[<your query>]'" in failed.observation


def test_gigpo_prompt_lists_admissible_actions_and_history() -> None:
    task = SPEC.task("train", 1)
    goal = SPEC.catalogue.goals["train"][1]
    results = play(SPEC, task, expert_actions(SPEC, task)[:2])
    item_page = results[2].observation
    assert f"Your task is to: {goal.instruction}" in item_page
    assert "'click[buy now]'" in item_page and "'click[< prev]'" in item_page
    assert "Action 1: 'search[" in item_page and "You are now at step 3" in item_page


def test_state_keys_name_page_query_page_number_item_and_options() -> None:
    task = SPEC.task("train", 2)
    goal = SPEC.catalogue.goals["train"][2]
    title = SPEC.catalogue.products[goal.asin].title.lower()
    name, value = next(iter(goal.option_choice.items()))
    actions = [
        tagged(f"search[{title}]"),
        tagged(f"click[{goal.asin}]"),
        tagged(f"click[{value}]"),
        tagged("click[< prev]"),
    ]
    keys = [r.state_key for r in play(SPEC, task, actions)]
    assert keys[0] == f"{task.task_id}|search||1||"
    assert keys[1] == f"{task.task_id}|results|{title}|1||"
    assert keys[2] == f"{task.task_id}|item|{title}|1|{goal.asin}|"
    assert keys[3] == f"{task.task_id}|item|{title}|1|{goal.asin}|{name}={value}"
    assert keys[4] == keys[1]  # back on the results page: the same anchor state as before


def test_plain_prompt_takes_bare_actions() -> None:
    spec = WebShop(num_products=200, seed=1, prompt="plain")
    task = spec.task("train", 0)
    actions = expert_actions(spec, task, wrap=str)
    assert play(spec, task, actions)[-1].reward == 1.0


def raw_item(asin: str, name: str, query: str, colors: list[str]) -> dict[str, object]:
    """One item in the schema of WebShop's items_shuffle_1000.json."""
    return {
        "asin": asin,
        "name": name,
        "query": query,
        "category": "fashion",
        "product_category": "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running",
        "full_description": f"{name}, built for long runs.",
        "small_description": ["Rubber sole", "Lace up"],
        "pricing": "$35.99 - $49.99",
        "customization_options": {"Color": [{"value": c, "image": None} for c in colors], "Size": None},
        "images": ["https://example.invalid/a.jpg"],
        "average_rating": 4.5,
    }


@pytest.fixture
def webshop_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    items = [
        raw_item("B0AAAAAAA1", "Stride Mens Running Shoes", "mens running shoes", ["Black/White", "Blue"]),
        raw_item("B0AAAAAAA2", "Trail Runner Hiking Boots", "hiking boots", ["Brown"]),
        raw_item("B0AAAAAAA3", "Court Classic Tennis Shoes", "tennis shoes", ["White", "Green"]),
    ]
    attributes = {
        item["asin"]: {
            "attributes": ["rubber sole", "lace up"],
            "instruction": f"i need {item['query']}",
            "instruction_attributes": ["rubber sole"],
        }
        for item in items
    }
    # More than the 1,500 goals upstream's split skips before its train split; one without attributes.
    human = {
        "B0AAAAAAA1": [
            {
                "instruction": f"i want black running shoes with a rubber sole, pair {number}.",
                "instruction_attributes": ["rubber sole"],
                "instruction_options": ["black | white"],
            }
            for number in range(900)
        ],
        "B0AAAAAAA3": [
            {
                "instruction": f"find me white tennis shoes that lace up, pair {number}",
                "instruction_attributes": [] if number == 0 else ["lace up"],
                "instruction_options": ["white"],
            }
            for number in range(701)
        ],
    }
    paths = (
        tmp_path / "items_shuffle_1000.json",
        tmp_path / "items_ins_v2_1000.json",
        tmp_path / "items_human_ins.json",
    )
    for path, data in zip(paths, (items, attributes, human)):
        path.write_text(json.dumps(data))
    return paths


def test_loader_reads_webshop_files_as_webshop_does(webshop_files: tuple[Path, Path, Path]) -> None:
    items, attributes, human = (str(p) for p in webshop_files)
    spec = WebShop(items_path=items, attributes_path=attributes, human_instructions_path=human)
    shoe = spec.catalogue.products["B0AAAAAAA1"]
    assert shoe.title == "Stride Mens Running Shoes" and shoe.pricing == (35.99, 49.99)
    assert shoe.options == {"color": ("black | white", "blue")}  # lower-cased, '/' → ' | ', None dropped
    assert 35.99 <= spec.catalogue.prices["B0AAAAAAA1"] <= 49.99
    task = next(spec.task("eval", i) for i in range(500) if spec.catalogue.goals["eval"][i].asin == shoe.asin)
    assert task.prompt.startswith("i want black running shoes with a rubber sole")
    assert "price lower than" in task.prompt
    actions = [
        tagged("search[black running shoes rubber sole]"),
        tagged("click[b0aaaaaaa1]"),
        tagged("click[black | white]"),
        tagged("click[buy now]"),
    ]
    final = play(spec, task, actions)[-1]
    assert final.reward == 1.0 and final.success is True
    synthetic = WebShop(items_path=items, attributes_path=attributes, eval_fraction=0.34)
    assert synthetic.num_tasks("train") == 2 and synthetic.num_tasks("eval") == 1


def test_human_goals_split_as_upstream_shuffled_with_seed_233(webshop_files: tuple[Path, Path, Path]) -> None:
    items, attributes, human = (str(p) for p in webshop_files)
    goals = WebShop(
        items_path=items, attributes_path=attributes, human_instructions_path=human
    ).catalogue.goals
    # Upstream's order: catalogue order, each asin's instructions in file order, the attribute-less skipped.
    order = [f"i want black running shoes with a rubber sole, pair {n}" for n in range(900)]
    order += [f"find me white tennis shoes that lace up, pair {n}" for n in range(1, 701)]
    random.Random(233).shuffle(order)
    assert [g.instruction.split(", and price")[0] for g in goals["eval"]] == order[:500]
    assert [g.instruction.split(", and price")[0] for g in goals["train"]] == order[1500:]
    assert len(goals["train"]) == 100


def test_num_products_keeps_the_first_items_of_the_real_files(webshop_files: tuple[Path, Path, Path]) -> None:
    items, attributes, human = (str(p) for p in webshop_files)
    two = WebShop(items_path=items, attributes_path=attributes, num_products=2, eval_fraction=0.5)
    assert list(two.catalogue.products) == ["B0AAAAAAA1", "B0AAAAAAA2"]
    assert len(WebShop(items_path=items, attributes_path=attributes).catalogue.products) == 3
    with pytest.raises(ValueError, match="yields 900 human goals; upstream's split needs more than 1500"):
        _ = WebShop(
            items_path=items, attributes_path=attributes, human_instructions_path=human, num_products=2
        ).catalogue


def test_a_product_whose_option_has_no_value_gets_no_synthetic_goal(tmp_path: Path) -> None:
    items = [
        raw_item(f"B0AAAAAAA{n}", f"Stride Runner {n}", "mens running shoes", ["Blue"]) for n in range(3)
    ]
    items[0]["customization_options"] = {"Color": [], "Size": [{"value": "8", "image": None}]}
    entry = {
        "attributes": ["lace up"],
        "instruction": "i need running shoes",
        "instruction_attributes": ["lace up"],
    }
    paths = (tmp_path / "items.json", tmp_path / "attributes.json")
    paths[0].write_text(json.dumps(items))
    paths[1].write_text(json.dumps({item["asin"]: entry for item in items}))
    spec = WebShop(items_path=str(paths[0]), attributes_path=str(paths[1]), eval_fraction=0.5)
    assert spec.catalogue.products["B0AAAAAAA0"].options == {"color": (), "size": ("8",)}
    goal_asins = {g.asin for goals in spec.catalogue.goals.values() for g in goals}
    assert goal_asins == {"B0AAAAAAA1", "B0AAAAAAA2"}


def test_bad_configuration_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown prompt 'chat'"):
        WebShop(prompt="chat")
    with pytest.raises(ValueError, match="give both items_path and attributes_path"):
        WebShop(items_path="items.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _ = WebShop(items_path=str(tmp_path / "x.json"), attributes_path=str(tmp_path / "y.json")).catalogue
    with pytest.raises(ValueError, match="unknown split 'test'"):
        SPEC.task("test", 0)


def test_system_prompt_gives_format_and_example_and_replies_are_read_leniently() -> None:
    assert "<think>" in SPEC.system_prompt and "<action>search[" in SPEC.system_prompt
    assert "click[buy now]" in SPEC.system_prompt
    task = SPEC.task("train", 0)
    title = SPEC.catalogue.products[SPEC.catalogue.goals["train"][0].asin].title
    replies = ["I will search.", f"<THINK>x</THINK><action>click[a]</action> <ACTION> Search [{title}] </ACTION>"]
    _, untagged, searched = play(SPEC, task, replies)  # the last block wins, verb and tags in any case
    assert untagged.failure == "format" and "<action>...</action>" in untagged.observation
    assert "'search[<your query>]'" in untagged.observation  # the admissible actions stay listed
    assert searched.action == f"search[{title}]"
