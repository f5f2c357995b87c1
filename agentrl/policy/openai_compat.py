"""The `openai` backend: any OpenAI-compatible completions server (e.g. `vllm serve`) through httpx.

Token ids are the truth, so the backend sends the context as token ids (the completions API accepts a
list of ints as `prompt`) and asks for the ids and log-probs of what was sampled back
(`return_token_ids`, `logprobs: 0`). A server that cannot return them (the OpenAI service itself,
servers without vLLM's token-id extension) is refused with an error that says so: re-tokenizing the
reply text would train on ids the sampler never produced.

Each request carries a `seed` drawn from the episode's `torch.Generator`, so a seeded server samples
the same reply for the same episode however requests were batched. Transient failures (connection
errors, timeouts, 408/429/5xx) are retried with exponential backoff; other HTTP errors fail at once
with the server's message.

The server's weights are its own: `sync_weights` cannot reach them, so the policy keeps the server's
version (0), and the trainer's staleness bound (`rollout.max_staleness`) decides how long its samples
are trained on. Use it for evaluation, remote rollouts, or a server whose weights are updated by other
means.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import torch

from agentrl.policy.protocol import Generation, check_sampling_settings

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class OpenAIBackendError(RuntimeError):
    """The server could not give what the backend needs; the message says what and how to fix it."""


@dataclass(frozen=True)
class ServerSettings:
    base_url: str
    """Up to and including `/v1`, e.g. `http://localhost:8000/v1`."""
    model: str
    """The served model name (`vllm serve --served-model-name`)."""
    api_key: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 0.5
    """First retry waits this long, each further one twice as long."""
    max_concurrency: int = 64
    """Requests in flight at once."""


class OpenAIPolicy:
    def __init__(
        self,
        server: ServerSettings,
        max_new_tokens: int,
        stop_token_ids: frozenset[int],
        temperature: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_sampling_settings(temperature, max_new_tokens)
        self.server = server
        self.max_new_tokens = max_new_tokens
        self.stop_token_ids = stop_token_ids
        self.temperature = temperature
        self.transport = transport
        self.version = 0
        self.retries = 0
        """Requests retried so far (for metrics and tests)."""

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        """A remote server's weights cannot be replaced from here; samples keep the server's version."""

    def generate_batch(self, contexts: list[list[int]], generators: list[torch.Generator]) -> list[Generation]:
        if any(len(context) == 0 for context in contexts):
            raise ValueError("cannot generate from an empty context")
        seeds = [int(torch.randint(0, 2**31 - 1, (1,), generator=g)) for g in generators]
        # Runs in the batcher's generation thread: its own event loop, the rollout's loop never blocks.
        return asyncio.run(self._generate_all(contexts, seeds))

    async def _generate_all(self, contexts: list[list[int]], seeds: list[int]) -> list[Generation]:
        headers = {"Authorization": f"Bearer {self.server.api_key}"} if self.server.api_key else {}
        slots = asyncio.Semaphore(self.server.max_concurrency)
        async with httpx.AsyncClient(
            base_url=self.server.base_url, headers=headers, timeout=self.server.timeout_s, transport=self.transport
        ) as client:
            return list(await asyncio.gather(*(self._generate(client, slots, c, s) for c, s in zip(contexts, seeds))))

    async def _generate(
        self, client: httpx.AsyncClient, slots: asyncio.Semaphore, context: list[int], seed: int
    ) -> Generation:
        body = {
            "model": self.server.model,
            "prompt": context,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "seed": seed,
            "logprobs": 0,
            "return_token_ids": True,
            "stop_token_ids": sorted(self.stop_token_ids),
            "skip_special_tokens": False,
        }
        async with slots:
            payload = await self._post(client, body)
        return self._parse(payload)

    async def _post(self, client: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
        url = f"{self.server.base_url}/completions"
        for attempt in range(self.server.max_retries + 1):
            last_attempt = attempt == self.server.max_retries
            try:
                response = await client.post("/completions", json=body)
            except httpx.TransportError as error:
                if last_attempt:
                    raise OpenAIBackendError(
                        f"{url} unreachable after {attempt + 1} attempts: {type(error).__name__}: {error}"
                    ) from error
            else:
                if response.status_code == 200:
                    return response.json()
                if response.status_code not in RETRYABLE_STATUS or last_attempt:
                    raise OpenAIBackendError(
                        f"{url} answered HTTP {response.status_code} after {attempt + 1} attempts: "
                        f"{response.text[:500]}"
                    )
            self.retries += 1
            await asyncio.sleep(self.server.backoff_s * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _parse(self, payload: dict[str, object]) -> Generation:
        url = f"{self.server.base_url}/completions"
        choices = payload.get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            raise OpenAIBackendError(f"{url} returned {payload!r:.300}, not one completion choice")
        choice = choices[0]
        token_ids = choice.get("token_ids")
        if token_ids is None:
            raise OpenAIBackendError(
                f"{url} returned no token ids for the completion. agentrl trains on the exact sampled ids and "
                "never re-tokenizes text, so the server must support `return_token_ids` (vLLM's OpenAI server "
                "does: `vllm serve`); the OpenAI service and plain-text servers cannot be used for training"
            )
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
        if logprobs is None or len(logprobs) != len(token_ids) or any(lp is None for lp in logprobs):
            raise OpenAIBackendError(
                f"{url} returned {len(token_ids)} token ids but no matching log-probs "
                f"(logprobs={choice.get('logprobs')!r:.200}); the behaviour log-probs are needed for the "
                "off-policy correction: the server must honour `logprobs: 0` on completions"
            )
        return Generation(
            token_ids=[int(t) for t in token_ids],
            logprobs=[float(lp) for lp in logprobs],
            policy_version=self.version,
            stopped=choice.get("finish_reason") == "stop",
        )
