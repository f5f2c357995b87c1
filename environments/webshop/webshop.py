"""The webshop `EnvSpec` and its episodes.

A task is one goal (an instruction derived from a product, with attributes, options and a price
limit). The default prompt is the GiGPO paper's: task, the last `history_length` (page, action)
pairs, the current page and the admissible actions, answered in `<think>`/`<action>` tags
(`prompt="gigpo"`); `prompt="plain"` shows the page and the admissible actions and takes a bare
action. `action_format="index"` numbers the admissible actions and takes the number instead
(`agentrl.environments.webshop.indexed_actions`: what `model=tiny` can answer). A reply that does not parse,
or names nothing clickable, is a format failure: the page stays, `invalid_action_penalty` is
subtracted, and the reminder lists the admissible actions. Buying ends the episode with WebShop's
reward; `score` is that reward, and WebShop's published score is 100 × its mean over episodes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import Literal

from agentrl.environments.webshop.catalogue import (
    SPLITS,
    Catalogue,
    build_catalogue,
    generate_raw_catalogue,
    read_webshop_files,
    vocabulary_words,
)
from agentrl.environments.webshop.demos import demonstration
from agentrl.environments.webshop.indexed_actions import index_words, listed_actions, numbered, resolve
from agentrl.environments.webshop.reward import REWARD_VERSIONS
from agentrl.environments.webshop.site import InvalidAction, Session

from agentrl.env import FORMAT_HINT, INSTRUCTION, parse_reply, render_history_prompt, shared_per_node
from agentrl.types import StepResult, Task

PROMPTS = ("gigpo", "plain")
_VERB = re.compile(r"^(search|click)\s*\[", re.IGNORECASE)
"""`Search [x]` is `search[x]`: the site's parser wants the verb as written in the list."""
GENERATED_PRODUCTS = 9600
"""The generated catalogue's size when `num_products` is null: 1,200 goal products, each with its seven
distractors (`catalogue.DISTRACTOR_ROLES`)."""
ACTION_FORMATS = ("text", "index")
SYSTEM_PROMPT = (
    "You are an expert autonomous agent shopping on the WebShop site. Find the product the "
    "instruction describes, choose its options and buy it with click[buy now]. Actions: "
    "search[keywords] on the search page, click[x] for a clickable x on the page; every turn "
    "lists the admissible actions. Reply with your reasoning inside <think> </think>, then exactly "
    "one action inside <action> </action>. Example reply:\n"
    "<think>I am on the search page, so I search for the product.</think>"
    "<action>search[red running shoes]</action>"
)
"""Read by chat models only (`model=tiny`'s chat template leaves system messages out)."""
INDEX_PROMPT = (
    " Here the admissible actions are numbered: inside <action> </action> write only the number of "
    "the one you choose, e.g. <action>2</action>."
)
SITE_WORDS = (
    "WebShop [SEP] Instruction: Search Back to Search Page Total results: Next > < Prev Price: "
    "Rating: Description Features Reviews Buy Now Selected options: No reviews yet. Invalid action: "
    "search[ click[ ] <think> </think> <action> </action> back to buy now next prev"
)


class WebShop:
    """The webshop `EnvSpec`: a generated catalogue by default, WebShop's files when given."""

    def __init__(
        self,
        num_products: int | None = None,
        seed: int = 0,
        eval_fraction: float = 0.1,
        items_path: str | None = None,
        attributes_path: str | None = None,
        human_instructions_path: str | None = None,
        prompt: str = "gigpo",
        history_length: int = 2,
        max_turns: int = 15,
        invalid_action_penalty: float = 0.1,
        action_format: str = "text",
        reward: str = "master",
    ) -> None:
        if prompt not in PROMPTS:
            raise ValueError(f"unknown prompt {prompt!r}; webshop has: {', '.join(PROMPTS)}")
        if action_format not in ACTION_FORMATS:
            raise ValueError(
                f"unknown action_format {action_format!r}; webshop has: {', '.join(ACTION_FORMATS)}"
            )
        if reward not in REWARD_VERSIONS:
            raise ValueError(
                f"unknown reward {reward!r}; webshop follows upstream's: {', '.join(REWARD_VERSIONS)}"
            )
        if (items_path is None) != (attributes_path is None):
            raise ValueError("give both items_path and attributes_path (WebShop's real files), or neither")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if invalid_action_penalty < 0:
            raise ValueError(
                f"invalid_action_penalty must be >= 0 (it is subtracted), got {invalid_action_penalty}"
            )
        if not 0.0 < eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
        if num_products is not None and num_products < 1:
            raise ValueError(f"num_products must be at least 1 (or null for the default), got {num_products}")
        if history_length < 0:
            raise ValueError(f"history_length must be >= 0, got {history_length}")
        self.num_products = num_products
        self.seed = seed
        self.eval_fraction = eval_fraction
        self.files = (items_path, attributes_path, human_instructions_path)
        self.prompt = prompt
        self.history_length = history_length
        self.max_turns = max_turns
        self.invalid_action_penalty = invalid_action_penalty
        self.action_format = action_format
        self.reward = reward
        self.system_prompt = SYSTEM_PROMPT + (INDEX_PROMPT if action_format == "index" else "")

    @cached_property
    def catalogue(self) -> Catalogue:
        """Loaded on first use; under infra=ray once per node for all the env workers on it."""
        shape = (self.num_products, self.seed, self.eval_fraction, self.files)
        return shared_per_node(f"webshop catalogue {shape}", partial(load_catalogue, *shape))

    def task(self, split: str, index: int) -> Task:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; webshop has: {', '.join(SPLITS)}")
        if index < 0:
            raise ValueError(f"task index must be >= 0, got {index}")
        goals = self.catalogue.goals[split]
        position = index % len(goals)
        return Task(
            task_id=f"webshop-{split}-{position}",
            seed=position,
            prompt=goals[position].instruction,
            payload={"split": split, "goal": position},
        )

    def num_tasks(self, split: str) -> int | None:
        return len(self.catalogue.goals[split])

    def make_env(self) -> WebShopEpisode:
        return WebShopEpisode(self)

    def vocabulary(self) -> Sequence[str]:
        words = f"{SITE_WORDS} {INSTRUCTION} {render_history_prompt('', [('', '')], '', ['a'], 1)}".split()
        if self.action_format == "index":
            return sorted(set(words) | set(index_words(self.catalogue)))
        return sorted(set(words) | set(vocabulary_words(self.catalogue)))

    def demonstration(self, task: Task) -> list[str] | None:
        """The expert's replies: search, open the goal product, choose its options, buy
        (`agentrl.environments.webshop.demos`)."""
        return demonstration(self, task)


def load_catalogue(
    num_products: int | None,
    seed: int,
    eval_fraction: float,
    files: tuple[str | None, str | None, str | None],
) -> Catalogue:
    """WebShop's real files when `files` names items and attributes, else the seeded generated catalogue.

    `num_products` keeps the first that many raw items of the real files, as upstream's
    `load_products` does (the file is already shuffled); null keeps all. For the generated catalogue
    it is the size, `GENERATED_PRODUCTS` when null.
    """
    items_path, attributes_path, human_path = files
    if items_path is not None and attributes_path is not None:
        items, attributes, human = read_webshop_files(
            Path(items_path), Path(attributes_path), None if human_path is None else Path(human_path)
        )
        items = items if num_products is None else items[:num_products]
    else:
        size = GENERATED_PRODUCTS if num_products is None else num_products
        (items, attributes), human = generate_raw_catalogue(size, seed), None
    return build_catalogue(items, attributes, human, seed, eval_fraction)


class WebShopEpisode:
    """One shopping episode; the site logic runs in a worker thread (search is CPU work)."""

    def __init__(self, spec: WebShop) -> None:
        self.spec = spec
        self.session: Session | None = None
        self.task_id = ""
        self.history: list[tuple[str, str]] = []

    async def reset(self, task: Task) -> StepResult:
        goal = self.spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]
        self.session = Session(self.spec.catalogue, goal, reward_version=self.spec.reward)
        self.task_id = task.task_id
        self.history = []
        return self._result(reward=0.0)

    async def step(self, action: str) -> StepResult:
        if self.session is None:
            raise RuntimeError("step() before reset(): the framework calls reset(task) first")
        page = self.session.observation()
        try:
            parsed = self._parse(action)
            await asyncio.to_thread(self.session.act, parsed)
        except InvalidAction as error:
            return self._result(
                reward=-self.spec.invalid_action_penalty,
                failure="format",
                note=f"Invalid action: {error}.",
            )
        self.history.append((page, parsed))
        purchase = self.session.purchase
        if purchase is None:
            return self._result(reward=0.0, action=parsed)
        return StepResult(
            observation=f"You bought {self.session.asin} for a reward of {purchase.reward:.3f}.",
            reward=purchase.reward,
            done=True,
            state_key=self._state_key(),
            action=parsed,
            success=purchase.reward == 1.0,
            score=purchase.reward,
        )

    async def close(self) -> None:
        self.session = None

    def _parse(self, reply: str) -> str:
        """The site action the reply names; `InvalidAction` when it names none.

        Read with `agentrl.env.parse_reply` (the last `<action>` block; tags in any case). In
        index mode, and under the plain prompt, a bare answer is read as is: a one-token policy
        such as `model=tiny` cannot write the tags around it.
        """
        if self.spec.action_format == "index":
            answer = parse_reply(reply, allow_bare=True)
            if answer is None:
                raise InvalidAction("no single <action>...</action> block holding a number")
            assert self.session is not None
            return resolve(answer, listed_actions(self.session))
        answer = parse_reply(reply, allow_bare=self.spec.prompt == "plain")
        if answer is None:
            raise InvalidAction(f"no <action>...</action> block; {FORMAT_HINT}")
        return _VERB.sub(lambda match: f"{match.group(1).lower()}[", answer, count=1)

    def _state_key(self) -> str:
        assert self.session is not None
        return f"{self.task_id}|{self.session.state_key()}"

    def _result(
        self, reward: float, action: str | None = None, failure: Literal["format"] | None = None, note: str = ""
    ) -> StepResult:
        assert self.session is not None
        page = self.session.observation()
        if self.spec.action_format == "index":
            actions = numbered(listed_actions(self.session))
        else:
            actions = self.session.admissible_actions()
        if self.spec.prompt == "gigpo":
            observation = render_history_prompt(
                self.session.goal.instruction,
                self.history,
                f"{note} {page}".strip(),
                actions,
                self.spec.history_length,
            )
        else:
            observation = "\n".join(filter(None, [note, page, "Admissible actions: " + " ".join(actions)]))
        return StepResult(
            observation=observation, reward=reward, state_key=self._state_key(), action=action, failure=failure
        )
