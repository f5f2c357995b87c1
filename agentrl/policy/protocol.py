"""What the rollout engine needs from a policy backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: importing the protocol (infra, config loading) needs no torch
    import torch


@dataclass(frozen=True)
class Generation:
    """One sampled reply: its exact token ids, their behaviour log-probs under the sampling
    distribution, the policy version that produced them, and whether a stop token ended it."""

    token_ids: list[int]
    logprobs: list[float]
    policy_version: int
    stopped: bool


def check_sampling_settings(temperature: float, max_new_tokens: int) -> None:
    """What every backend needs to return behaviour log-probs of sampled tokens: a positive temperature
    (greedy decoding has no sampling distribution) and room for at least one token."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 for sampling with log-probs, got {temperature}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")


class Policy(Protocol):
    """A backend that samples replies for many contexts at once.

    `generator` carries one random stream per request, so what an episode samples does not depend on
    which other episodes happened to share its batch (reproducible runs under concurrent batching).
    """

    version: int

    def generate_batch(
        self, contexts: list[list[int]], generators: list[torch.Generator]
    ) -> list[Generation]: ...

    def sync_weights(self, model: torch.nn.Module, version: int) -> None:
        """Sample with `model`'s current weights from now on, as policy `version`.

        Called by the trainer after every learner step, possibly while a rollout is running (async
        mode): a backend applies it between generation calls, never inside one, so every `Generation`
        comes from exactly one version."""
        ...
