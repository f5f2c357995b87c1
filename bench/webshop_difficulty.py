"""How hard the generated WebShop catalogue is: search rank of the goal and how many products are perfect.

For the eval goals of a generated catalogue (the env's default size unless `--num-products`) it prints:
the share of goals whose product is in the BM25 top 10 with the instruction as the query, the mean
rank (1-based, rank `SEARCH_RESULTS + 1` when outside the 50 results), the number of goals with more
than one perfect product (reward 1.0 with the env's reward, each product with its best option
choice), the mean reward of the best wrong product, and the expert demonstrations' success rate.

    python bench/webshop_difficulty.py [--num-products N] [--goals 120] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

from agentrl.environments.webshop.catalogue import Catalogue
from agentrl.environments.webshop.product import Goal, Product
from agentrl.environments.webshop.reward import purchase_reward
from agentrl.environments.webshop.site import SEARCH_RESULTS
from agentrl.environments.webshop.webshop import WebShop

from agentrl.types import Task


def best_reward(catalogue: Catalogue, product: Product, goal: Goal, version: str) -> float:
    """The product's reward for `goal` with its best option choice (every combination tried)."""
    names = sorted(product.options)
    price = catalogue.prices[product.asin]
    plain = purchase_reward(product, goal, price, {}, version)
    if plain.r_type == 0.0 or not names:
        return plain.reward  # no option choice can change it
    choices = itertools.product(*(product.options[name] for name in names))
    return max(
        purchase_reward(product, goal, price, dict(zip(names, values, strict=True)), version).reward
        for values in choices
    )


def goal_rank(catalogue: Catalogue, goal: Goal) -> int:
    """The goal product's 1-based rank for its instruction as the query; `SEARCH_RESULTS + 1` if absent."""
    asins = [product.asin for product in catalogue.search(goal.instruction, SEARCH_RESULTS)]
    return asins.index(goal.asin) + 1 if goal.asin in asins else SEARCH_RESULTS + 1


def demo_success(spec: WebShop, index: int) -> bool:
    """Does the expert demonstration of eval goal `index` end in a purchase with reward 1?"""
    task = spec.task("eval", index)
    replies = spec.demonstration(task)
    if replies is None:
        return False
    return asyncio.run(_final_reward(spec, task, replies)) == 1.0


async def _final_reward(spec: WebShop, task: Task, replies: list[str]) -> float:
    env = spec.make_env()
    result = await env.reset(task)
    for reply in replies:
        result = await env.step(reply)
    await env.close()
    return result.reward if result.done else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-products", type=int, default=None, help="null: the env's default size")
    parser.add_argument("--goals", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spec = WebShop(num_products=args.num_products, seed=args.seed)
    start = time.perf_counter()
    catalogue = spec.catalogue
    print(
        f"catalogue: {len(catalogue.products)} products, {len(catalogue.goals['train'])} train and "
        f"{len(catalogue.goals['eval'])} eval goals, built in {time.perf_counter() - start:.1f}s"
    )
    goals = catalogue.goals["eval"][: args.goals]
    ranks, multi_perfect, perfect_counts, best_wrong = [], 0, [], []
    for goal in goals:
        ranks.append(goal_rank(catalogue, goal))
        rewards = {
            asin: best_reward(catalogue, product, goal, spec.reward)
            for asin, product in catalogue.products.items()
        }
        perfect = sum(reward == 1.0 for reward in rewards.values())
        perfect_counts.append(perfect)
        multi_perfect += perfect > 1
        best_wrong.append(max(reward for asin, reward in rewards.items() if asin != goal.asin))
    n = len(goals)
    demos = sum(demo_success(spec, index) for index in range(n))
    print(f"goals measured: {n}")
    print(f"goal in top 10 (instruction as query): {sum(r <= 10 for r in ranks)}/{n}")
    print(f"goal in top 50: {sum(r <= SEARCH_RESULTS for r in ranks)}/{n}")
    print(f"mean rank (absent = {SEARCH_RESULTS + 1}): {sum(ranks) / n:.2f}")
    print(
        f"goals with more than one perfect product: {multi_perfect}/{n} "
        f"(mean perfect products {sum(perfect_counts) / n:.2f})"
    )
    print(f"mean reward of the best wrong product: {sum(best_wrong) / n:.3f}")
    print(f"expert demonstrations with reward 1: {demos}/{n}")


if __name__ == "__main__":
    main()
