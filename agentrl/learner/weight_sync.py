"""Weights from the learner to the rollout engine, with a deadline.

A sync that never finishes (a vLLM engine stuck in a collective, a dead remote worker, a generation call
that never returns and so never releases the engine's lock) would otherwise hang the run forever with
nothing in the log. Here it fails the run after `learner.weight_sync_timeout_s`, naming the timeout. The
sync runs in a daemon thread: Python cannot kill a thread, so a hung sync is abandoned, not undone, and
the engine must be treated as broken (the run stops; `trainer.resume=true` continues from the last
checkpoint). The policy's version only moves when its `sync_weights` completes (Policy protocol), so an
abandoned sync never labels old weights as new.
"""

from __future__ import annotations

import threading

import torch

from agentrl.policy.protocol import Policy


class WeightSyncTimeout(RuntimeError):
    """The rollout engine did not take the new weights in time."""


def sync_weights(policy: Policy, model: torch.nn.Module, version: int, timeout_s: float) -> None:
    """`policy.sync_weights(model, version)`, or WeightSyncTimeout after `timeout_s` seconds. An error
    raised by the sync itself is raised here unchanged."""
    errors: list[Exception] = []

    def run() -> None:
        try:
            policy.sync_weights(model, version)
        except Exception as error:  # noqa: BLE001 -- re-raised in the caller's thread below
            errors.append(error)

    worker = threading.Thread(target=run, name=f"agentrl-weight-sync-v{version}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise WeightSyncTimeout(
            f"weight sync of policy version {version} to the {type(policy).__name__} rollout engine did not "
            f"finish within learner.weight_sync_timeout_s={timeout_s:g}s; the engine is hung or too slow. "
            "Check the engine, or raise learner.weight_sync_timeout_s if large models need longer"
        )
    if errors:
        raise errors[0]
