"""Expert demonstrations for webshop: search, open the goal product, choose its goal options, buy.

The expert plays the site itself (`Session`, the engine every episode runs on) to find a query whose
results hold the goal product: the queries the policy could write from the instruction alone first (the
whole instruction, then its product part; in index mode these are the only ones the search page lists),
then, in text mode, the product's title. It pages with `next >` until the product shows, clicks it, clicks
the goal's option values and buys. Goals without option values to click (WebShop's human goals, whose
options are free text) and goals no query finds have no demonstration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrl.environments.webshop.indexed_actions import listed_actions, search_queries
from agentrl.environments.webshop.site import BUY_NOW, NEXT_PAGE, PAGE_SIZE, SEARCH_RESULTS, Session

from agentrl.types import Task

if TYPE_CHECKING:
    from agentrl.environments.webshop.webshop import WebShop


def reply(spec: WebShop, session: Session, action: str, thought: str) -> str:
    """A site action as the policy writes it on `session`'s page, in the format `spec` accepts: the
    action's number in index mode, the bare action with the plain prompt, else the GiGPO prompt's
    `<think>`/`<action>` tags. The one place to change if the reply format changes."""
    if spec.action_format == "index":
        return str(listed_actions(session).index(action) + 1)
    if spec.prompt == "plain":
        return action
    return f"<think>{thought}</think><action>{action}</action>"


def demonstration(spec: WebShop, task: Task) -> list[str] | None:
    """The expert's replies for `task`, or None when it has none (see the module docstring)."""
    goal = spec.catalogue.goals[task.payload["split"]][task.payload["goal"]]
    if goal.options and not goal.option_choice:
        return None
    queries = search_queries(goal.instruction)
    if spec.action_format == "text":
        queries.append(spec.catalogue.products[goal.asin].title)
    found = [q for q in queries if goal.asin in {p.asin for p in spec.catalogue.search(q, SEARCH_RESULTS)}]
    if not found:
        return None
    session = Session(spec.catalogue, goal)
    search = f"search[{found[0]}]"
    replies = [reply(spec, session, search, "I search for the product the instruction describes.")]
    session.act(search)
    pages = session.results.index(goal.asin) // PAGE_SIZE
    plan = [(f"click[{NEXT_PAGE}]", "The product is not on this page; I go to the next one.")] * pages
    plan.append((f"click[{goal.asin.lower()}]", "This product matches the instruction; I open it."))
    plan += [(f"click[{value}]", f"The instruction asks for {value}.") for value in goal.option_choice.values()]
    plan.append((f"click[{BUY_NOW}]", "The options are chosen; I buy it."))
    for action, thought in plan:
        replies.append(reply(spec, session, action, thought))
        session.act(action)
    return replies
