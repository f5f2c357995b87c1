"""Expert demonstrations played through the rollout machinery, so they are recorded as rollouts are.

An environment offers a demonstration through its spec's optional `demonstration(task)` hook (a list of
replies, see `agentrl.env.protocol`). `record_demonstrations` plays each one with `run_episode`, the
function every sampled episode runs in: same chat context, same turn deltas, same limits, same failure
bookkeeping. Only the generation differs: `ScriptedReplies` stands where the generation batcher stands
and, instead of sampling, answers each turn with the next reply's token ids, closed by the stop token
the policy ends a reply with. Every turn's `observation_ids` and `action_ids` are therefore exactly what
a rollout that sampled those tokens would hold, and the learner trains on them as on any rollout (the
observation ids are never trained on; `agentrl/learner/supervised.py` trains the action ids).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import torch

from agentrl.env.protocol import EnvSpec
from agentrl.policy.chat_context import ChatContext
from agentrl.policy.protocol import Generation
from agentrl.rollout.episode import EpisodeLimits, run_episode
from agentrl.types import Task, Trajectory

DEMONSTRATION_POLICY_VERSION = -1
"""The `policy_version` of demonstrated turns: no version of the policy sampled them."""


def reply_stop_token(chat: ChatContext) -> int:
    """The token a policy ends its reply with: the template's message-closing token when it is a stop
    token (`<|im_end|>` in ChatML), else the tokenizer's eos."""
    closing = chat.encode(chat.template.after_reply)
    if closing and closing[0] in chat.stop_token_ids:
        return closing[0]
    if chat.tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has neither a message-closing stop token nor an eos token to end a reply with")
    return int(chat.tokenizer.eos_token_id)


def reply_ids(chat: ChatContext, reply: str, max_new_tokens: int) -> list[int]:
    """The ids a policy would sample to write `reply`: its tokenization, then the stop token when the
    reply leaves room for one within `max_new_tokens` (a reply that fills the budget ends by length, as
    the sampler would end it: `model=tiny` acts in one token and never samples a stop token)."""
    ids = chat.encode(reply.strip())
    decoded = chat.decode_action(ids)
    if decoded != reply.strip():
        raise ValueError(
            f"the tokenizer cannot write the demonstrated reply {reply.strip()!r} (its ids decode to {decoded!r}); "
            "a word-level model=tiny tokenizer knows only its environment's vocabulary"
        )
    if len(ids) > max_new_tokens:
        raise ValueError(
            f"the demonstrated reply {reply.strip()[:60]!r} takes {len(ids)} tokens, more than model.max_new_tokens="
            f"{max_new_tokens}; the policy could never write it: raise model.max_new_tokens"
        )
    return ids + [reply_stop_token(chat)] if len(ids) < max_new_tokens else ids


class ScriptedReplies:
    """One episode's generation, answered from a demonstration instead of sampled.

    It offers what `run_episode` asks of the generation batcher (`generate`, `episode_finished`); the
    ids are computed up front, so a reply the policy could not write fails before the episode starts.
    Log-probs are 0: there is no behaviour distribution, and supervised training does not read them.
    """

    def __init__(self, chat: ChatContext, replies: Sequence[str], max_new_tokens: int) -> None:
        self._ids = [reply_ids(chat, reply, max_new_tokens) for reply in replies]
        self._next = 0

    async def generate(self, context: list[int], generator: torch.Generator) -> Generation:
        if self._next == len(self._ids):
            raise ValueError(f"the demonstration's {len(self._ids)} replies ran out before the episode ended")
        ids = self._ids[self._next]
        self._next += 1
        return Generation(
            token_ids=list(ids), logprobs=[0.0] * len(ids), policy_version=DEMONSTRATION_POLICY_VERSION, stopped=True
        )

    async def episode_finished(self, generator: torch.Generator | None = None) -> None:
        """Nothing to release: no model state is kept between turns."""


def task_demonstration(spec: EnvSpec, task: Task) -> list[str] | None:
    """The spec's demonstration of `task` through its optional hook; None when it offers none."""
    hook = getattr(spec, "demonstration", None)
    return None if hook is None else hook(task)


async def record_demonstrations(
    spec: EnvSpec,
    env_name: str,
    tasks: Sequence[Task],
    chat: ChatContext,
    limits: EpisodeLimits,
) -> list[Trajectory]:
    """Every task's demonstration played as an episode, all at once; tasks without one are skipped.

    A demonstration that does not succeed comes back as what it was (a failed or infra-failed episode
    saying why), so the caller decides; `agentrl sft` trains on the successful ones only."""
    if getattr(spec, "demonstration", None) is None:
        raise ValueError(
            f"env {env_name!r} offers no demonstrations: its spec has no demonstration(task) hook "
            "(docs/plugins.md, 'Expert demonstrations')"
        )
    episodes = []
    for index, task in enumerate(tasks):
        replies = task_demonstration(spec, task)
        if replies is None:
            continue
        script = ScriptedReplies(chat, replies, limits.max_new_tokens)
        episodes.append(
            run_episode(
                spec, env_name, task, f"demo-{index}-{task.task_id}", chat, script,  # type: ignore[arg-type]
                limits, torch.Generator().manual_seed(index),
            )
        )
    return list(await asyncio.gather(*episodes))
