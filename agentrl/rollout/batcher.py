"""Batches generation requests from concurrently running episodes.

Each episode is its own asyncio task and simply awaits `generate(context)`. The batcher gathers the
waiting requests into `generate_batch` calls, run in a worker thread so environment steps of the
other episodes keep going meanwhile. Two ways to form batches (`max_wait_s`):

- `max_wait_s=None` (the default, reproducible): rounds. Nothing goes out until every live episode is
  waiting; then the round's requests, in the order of their episodes (generator seed, then context),
  are cut into consecutive batches of at most `max_batch_size` requests and `max_batch_tokens` context
  tokens. Which requests share a forward pass then depends only on what the episodes did, never on
  how fast the machine or the environments were. That matters because a row's logits depend on its
  batch (padding to the longest row changes the float summation order, ~5e-7 in a log-prob): under
  timing-dependent batches two runs of the same seeded command sample the same tokens with slightly
  different behaviour log-probs, the updates differ in the last bits, and the runs drift apart.
- `max_wait_s=x` (seconds): a batch goes out as soon as every live episode is waiting, when it is
  full, or `x` after its first request arrived while some episode is still busy in its environment,
  so a slow tool delays nobody by more than `x`. Faster with slow, uneven tools; batch composition
  (and so the last bits of every log-prob) then depends on timing, and reruns are not bitwise equal.

Only live requests take a slot: an episode that ended (finished, failed, or timed out while its
request was queued) is never part of a batch. Generation runs on the batcher's own thread, never on
the pool the environments' blocking work uses, so a full env pool cannot starve the sampler.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch
from typing_extensions import Self

from agentrl.policy.protocol import Generation, Policy


@dataclass
class _Request:
    context: list[int]
    generator: torch.Generator
    future: asyncio.Future[Generation]


def _episode_order(request: _Request) -> tuple[int, list[int]]:
    """A request's place in its round: its episode's seed (unique per episode, `episode_seed`), then
    its context (two episodes with the same seed and context are interchangeable)."""
    return request.generator.initial_seed(), request.context


@dataclass
class BatcherStats:
    batches: int = 0
    requests: int = 0
    generated_tokens: int = 0
    generate_seconds: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


class GenerationBatcher:
    def __init__(
        self,
        policy: Policy,
        max_batch_size: int = 256,
        max_wait_s: float | None = None,
        max_batch_tokens: int | None = None,
    ) -> None:
        if max_wait_s is not None and max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0 seconds or None (rounds), got {max_wait_s}")
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1 or None, got {max_batch_tokens}")
        self.policy = policy
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_batch_tokens = max_batch_tokens
        self.stats = BatcherStats()
        self._pending: list[_Request] = []
        self._live_episodes = 0
        self._changed = asyncio.Condition()
        self._worker: asyncio.Task[None] | None = None
        self._generation_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentrl-generate")

    async def __aenter__(self) -> Self:
        self._worker = asyncio.create_task(self._serve())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._worker is not None
        self._worker.cancel()
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
        for request in self._pending:
            if not request.future.done():
                request.future.cancel()
        self._generation_thread.shutdown(wait=True)

    def expect_episodes(self, count: int) -> None:
        """Announce episodes before they start, so the first request does not go out alone."""
        self._live_episodes += count

    async def episode_finished(self, generator: torch.Generator | None = None) -> None:
        """An episode ended: it sends no more requests. With its `generator`, a policy that keeps
        per-episode state across calls (e.g. `HFPolicy`'s reused KV cache) is told to drop it."""
        release = getattr(self.policy, "release_episode", None)
        if generator is not None and release is not None:
            release(generator)
        async with self._changed:
            self._live_episodes -= 1
            self._changed.notify_all()

    async def generate(self, context: list[int], generator: torch.Generator) -> Generation:
        future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
        async with self._changed:
            self._pending.append(_Request(context, generator, future))
            self._changed.notify_all()
        return await future

    def _drop_abandoned(self) -> None:
        """Requests whose episode stopped waiting (it timed out or was cancelled) take no slot."""
        self._pending = [r for r in self._pending if not r.future.done()]

    def _take_batch(self) -> list[_Request]:
        """The first queued requests that fit `max_batch_size` and `max_batch_tokens` (always at least one,
        so a single context longer than the budget still gets generated)."""
        batch: list[_Request] = []
        tokens = 0
        for request in self._pending[: self.max_batch_size]:
            tokens += len(request.context)
            if batch and self.max_batch_tokens is not None and tokens > self.max_batch_tokens:
                break
            batch.append(request)
        del self._pending[: len(batch)]
        return batch

    def _take_round(self) -> list[list[_Request]]:
        """Every pending request (one per live episode), in episode order, cut into batches."""
        self._pending.sort(key=_episode_order)
        batches = []
        while self._pending:
            batches.append(self._take_batch())
        return batches

    def _ready(self, first_arrival: float) -> bool:
        self._drop_abandoned()
        everyone_waiting = len(self._pending) >= self._live_episodes
        if self.max_wait_s is None:
            return everyone_waiting
        full = len(self._pending) >= self.max_batch_size or (
            self.max_batch_tokens is not None
            and sum(len(r.context) for r in self._pending) >= self.max_batch_tokens
        )
        return everyone_waiting or full or time.monotonic() - first_arrival >= self.max_wait_s

    async def _serve(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._pending))
                first_arrival = time.monotonic()
                while not self._ready(first_arrival):
                    if self.max_wait_s is None:
                        await self._changed.wait()
                        continue
                    remaining = self.max_wait_s - (time.monotonic() - first_arrival)
                    try:
                        await asyncio.wait_for(self._changed.wait(), timeout=max(remaining, 0.0))
                    except asyncio.TimeoutError:
                        pass
                self._drop_abandoned()
                batches = self._take_round() if self.max_wait_s is None else [self._take_batch()]
            for batch in batches:
                live = [r for r in batch if not r.future.done()]  # an episode may time out meanwhile
                if live:
                    await self._run(live)

    async def _run(self, batch: list[_Request]) -> None:
        started = time.perf_counter()
        try:
            generations = await asyncio.get_running_loop().run_in_executor(
                self._generation_thread,
                self.policy.generate_batch,
                [r.context for r in batch],
                [r.generator for r in batch],
            )
        except Exception as error:  # noqa: BLE001 - the episodes decide what a failed generation means for them
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.batch_sizes.append(len(batch))
        self.stats.generated_tokens += sum(len(g.token_ids) for g in generations)
        self.stats.generate_seconds += time.perf_counter() - started
        for request, generation in zip(batch, generations):
            if not request.future.done():
                request.future.set_result(generation)
