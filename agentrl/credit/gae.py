"""GAE for PPO with a critic, per ALGORITHMS.md §1.5: turn level (Turn-PPO, arXiv 2512.17008) and token level.

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

Token level (`algo=ppo`, standard PPO for language models). The steps are the trajectory's action
tokens y_1..y_L, all turns concatenated; the state before token y_k is the context up to y_{k−1}, and
its value V_k = `turn.token_values[j]` (the value head at the position that predicts y_k). Observation
tokens are not steps: they are neither bootstrapped through nor trained, so the step after a turn's
last token is the next turn's first action token, one γ away. The turn's reward r_t arrives after its
last token (all other tokens get 0):

    δ_k = r_k + γ V_{k+1} − V_k,   A_k = δ_k + γλ A_{k+1},   V_{L+1} = 0,   R_k = A_k + V_k

With γ = λ = 1 every token of turn t gets A_k = G_t − V_k, the reward-to-go after it minus its value.
A turn without action tokens (ours) adds its reward to the last action token before it (the action it
followed); before any action token there is nothing to credit and the reward is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.credit.groups import check_number
from agentrl.types import Trajectory


def gae(rewards: Sequence[float], values: Sequence[float], gamma: float, lam: float) -> list[float]:
    """GAE over one episode's steps (turns or action tokens), with V = 0 after the last step."""
    advantages = [0.0] * len(rewards)
    running = 0.0  # A_{k+1}; 0 after the last step
    next_value = 0.0  # V_{k+1}; 0 after the last step, whatever the termination (module docstring)
    for k in reversed(range(len(rewards))):
        delta = rewards[k] + gamma * next_value - values[k]  # δ_k = r_k + γ V_{k+1} − V_k
        running = delta + gamma * lam * running  # A_k = δ_k + γλ A_{k+1}
        advantages[k] = running
        next_value = values[k]
    return advantages


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
        advantages[index] = gae([turn.reward for turn in trajectory.turns], values, gamma, lam)  # type: ignore[arg-type]
    return advantages


def token_gae_advantages(
    trajectories: Sequence[Trajectory], *, gamma: float = 1.0, lam: float = 1.0
) -> list[list[list[float]] | None]:
    """Per-token GAE advantages: per trajectory (None if not trainable) one list per turn with one value
    per action token. Every turn must carry `token_values`, one per action token (the learner writes them)."""
    check_number("gamma", gamma, low=0.0, high=1.0)
    check_number("lam", lam, low=0.0, high=1.0)
    advantages: list[list[list[float]] | None] = [None] * len(trajectories)
    for index, trajectory in enumerate(trajectories):
        if not trajectory.trainable:
            continue
        values: list[float] = []
        rewards: list[float] = []
        for turn in trajectory.turns:
            if turn.token_values is None or len(turn.token_values) != len(turn.action_ids):
                raise ValueError(
                    f"trajectory {index} ({trajectory.group_id}) has a turn without one value per action token; "
                    "token-level GAE needs the critic's token_values (Learner.assign_values writes them before credit)"
                )
            values += turn.token_values
            rewards += [0.0] * len(turn.action_ids)
            if rewards:  # r_t after the turn's last action token (or the last one before it)
                rewards[-1] += turn.reward
        flat = iter(gae(rewards, values, gamma, lam))
        advantages[index] = [[next(flat) for _ in turn.action_ids] for turn in trajectory.turns]
    return advantages
