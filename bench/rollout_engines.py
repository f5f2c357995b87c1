"""Generated tokens/s in process against 1 and 2 `hf` rollout-engine actors, same run.

The workload is what a rollout asks of the policy: `--episodes` episodes sampled together, one
`generate_batch` call per turn for all of them, each episode's context growing by its reply and an
observation delta, for `--turns` turns, then a weight sync (the learner step) before the next
repetition. No environment: the numbers are the generation side of a rollout only.

- `in-process`: `build_policy`'s `HFPolicy` in this process (`infra.engines=0`).
- `engines xN`: a `RayEnginePool` over N `RolloutEngine` actors (`infra.engines=N`), one logical CPU
  each, on a private local cluster started once for the run. The weight sync is timed separately.

Modes rotate order across repetitions, each is warmed up first; the median is reported with the
machine's core count and load average (other jobs sharing the cores lower every number).

    python bench/rollout_engines.py                       # 32 episodes x 8 turns x 4 tokens
    python bench/rollout_engines.py --hidden-size 256 --num-layers 4 --repetitions 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from functools import partial

import torch
from agentrl.environments.frozenlake.frozenlake import FrozenLake

from agentrl.infra.ray_cluster import connect
from agentrl.infra.ray_engines import RayEnginePool, start_engines
from agentrl.infra.settings import InfraConfig
from agentrl.policy.backends import build_policy
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.config import ModelConfig
from agentrl.policy.protocol import Policy
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer

ENGINE_COUNTS = (1, 2)


def rollout(policy: Policy, vocabulary: int, episodes: int, turns: int, seed: int) -> tuple[int, float]:
    """Generated tokens and seconds for `turns` batched turns of `episodes` fresh episodes."""
    generators = [torch.Generator().manual_seed(seed + i) for i in range(episodes)]
    contexts = [[(i + j) % vocabulary for j in range(12)] for i in range(episodes)]
    tokens, started = 0, time.perf_counter()
    for turn in range(turns):
        generations = policy.generate_batch(contexts, generators)
        tokens += sum(len(g.token_ids) for g in generations)
        contexts = [c + g.token_ids + [turn % vocabulary] * 6 for c, g in zip(contexts, generations)]
    for generator in generators:
        getattr(policy, "release_episode", lambda _: None)(generator)
    return tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=4)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()

    spec = FrozenLake()
    tokenizer = build_tiny_tokenizer(spec.vocabulary())
    chat = ChatContext(tokenizer, spec.system_prompt)
    shape = TinyModelShape(args.hidden_size, args.num_layers, 4, 4 * args.hidden_size)
    model = build_tiny_model(tokenizer, shape, seed=0)
    config = ModelConfig(max_new_tokens=args.max_new_tokens)
    build = partial(build_policy, config, pad_token_id=tokenizer.pad_token_id, chat=chat)
    cluster = connect(InfraConfig(name="ray", env_workers=1, cpus_per_worker=0, engines=sum(ENGINE_COUNTS)))
    policies: dict[str, Policy] = {"in-process": build(model)}
    for count in ENGINE_COUNTS:
        policies[f"engines x{count}"] = start_engines(build, model, cluster, count, 1.0, 0.0, 1, 300)

    rates: dict[str, list[float]] = {name: [] for name in policies}
    syncs: dict[str, list[float]] = {name: [] for name in policies}
    names = list(policies)
    for name in names:
        rollout(policies[name], len(tokenizer), args.episodes, 2, seed=0)  # warm-up
    for repetition in range(args.repetitions):
        for name in names[repetition % len(names) :] + names[: repetition % len(names)]:
            tokens, seconds = rollout(
                policies[name], len(tokenizer), args.episodes, args.turns, seed=1000 * repetition
            )
            rates[name].append(tokens / seconds)
            started = time.perf_counter()
            policies[name].sync_weights(model, repetition + 1)
            syncs[name].append(time.perf_counter() - started)

    baseline = statistics.median(rates["in-process"])
    print(
        f"{platform.machine()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}; "
        f"model {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters; {args.episodes} episodes x "
        f"{args.turns} turns x {args.max_new_tokens} tokens; median of {args.repetitions}"
    )
    print("| mode | generated tokens/s | all repetitions | vs in-process | weight sync (median) |")
    print("|---|---|---|---|---|")
    for name in names:
        median = statistics.median(rates[name])
        every = ", ".join(f"{rate:.0f}" for rate in rates[name])
        sync_ms = 1000 * statistics.median(syncs[name])
        print(f"| {name} | {median:.0f} | {every} | {median / baseline:.2f}x | {sync_ms:.1f} ms |")
    for policy in policies.values():
        if isinstance(policy, RayEnginePool):
            policy.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
