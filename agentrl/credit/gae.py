"""Turn-level GAE for PPO with a critic, per ALGORITHMS.md §1.5 (Turn-PPO, arXiv 2512.17008).

A turn is one action of an MDP whose state h_t is the whole context before the turn's action tokens.
The critic (`agentrl.learner.critic.ValueHead`) has scored every such state, V(h_t) = `turn.value`,
before this runs. Then, per episode, with r_t the turn's immediate reward (`turn.reward`, penalties
included, as the turn-level estimators use):

    δ_t = r_t + γ V(h_{t+1}) − V(h_t)          TD error of turn t, V(h_T) = 0 after the last turn
    A_t = Σ_{k≥0} (γλ)^k δ_{t+k}                computed backwards as A_t = δ_t + γλ A_{t+1}
    R_t = A_t + V(h_t)                           the critic's target (the λ-return)

The turn's advantage is broadcast to its action tokens by the learner, as every estimator's is. The
advantages are not normalised, so the learner recovers the critic's targets exactly as R_t = A_t + V(h_t)
from what the trajectory stores (`agentrl.learner.packing`); a normalised advantage would break that.

Choices the paper leaves open (ours): defaults γ = 1, λ = 1 (outcome-only rewards, as
Open-Reasoner-Zero), where A_t = G_t − V(h_t), the reward-to-go minus the value. After the last turn
V = 0 for every termination: for `done` that is exact; for `max_turns`, `truncated` and
`context_limit` the episode did not end in the environment, and bootstrapping with V(h_T) would be the
textbook choice, but the state after the last action is never scored (no turn follows it) and the
turn limit is part of the task an agent is trained on here, so running out of turns is worth nothing
more. Infra/timeout failures get None (never trained on), as with every estimator.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.groups import check_number
from agentrl.types import Trajectory


def turn_gae_advantages(
    trajectories: Sequence[Trajectory], *, gamma: float = 1.0, lam: float = 1.0
) -> list[list[float] | None]:
    """Per-turn GAE advantages, one entry per trajectory in input order (None if not trainable).

    `gamma`: discount γ in [0, 1]. `lam`: GAE's λ in [0, 1] (0: one-step TD, 1: Monte Carlo minus V).
    Every turn of a trainable trajectory must carry `value` (the learner writes it after the rollout).
    """
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("lam", lam, low=0.0, high=1.0)
    advantages: list[list[float] | None] = [None] * len(trajectories)
    for index, trajectory in enumerate(trajectories):
        if not trajectory.trainable:
            continue
        values = [turn.value for turn in trajectory.turns]
        if any(value is None for value in values):
            raise ValueError(
                f"trajectory {index} ({trajectory.group_id}) has turns without a value; turn-level GAE needs "
                "the critic's V(h_t) on every turn (Learner.assign_values writes them before credit)"
            )
        rewards = [turn.reward for turn in trajectory.turns]
        episode_advantages = [0.0] * len(rewards)
        running = 0.0  # A_{t+1}; 0 after the last turn
        next_value = 0.0  # V(h_{t+1}); 0 after the last turn, whatever the termination (module docstring)
        for t in reversed(range(len(rewards))):
            delta = rewards[t] + gamma * next_value - values[t]  # δ_t
            running = delta + gamma * lam * running  # A_t = δ_t + γλ A_{t+1}
            episode_advantages[t] = running
            next_value = values[t]  # type: ignore[assignment]
        advantages[index] = episode_advantages
    return advantages

