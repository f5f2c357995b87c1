"""The learner: recompute log-probs of the sampled action tokens, apply the policy loss, step AdamW.

The loss is aggregated over *all* action tokens of the step (a token mean by default; see
`agentrl.losses.aggregation` for the other modes), with weights and a divisor computed once per step,
so micro-batches only change how the sum is split, never its value: 1 micro-batch × 8 accumulation
steps equals 8 × 1 up to float error.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from agentrl.learner.critic import ValueHead, clipped_value_loss, explained_variance
from agentrl.learner.distributed import (
    LearnerGroup,
    extremes_over_ranks,
    full_norm,
    join_learner_group,
    most_over_ranks,
    rank_share,
    shard_policy,
    summed_over_ranks,
)
from agentrl.learner.mini_batches import split_into_mini_batches
from agentrl.learner.packing import (
    MicroBatch,
    Rows,
    TrainingSequence,
    collate,
    pack_micro_batches,
    training_sequences,
)
from agentrl.learner.precision import checkpoint_activations, compute_precision
from agentrl.learner.schedule import lr_factor
from agentrl.learner.settings import LearnerSettings
from agentrl.learner.supervised import action_nll
from agentrl.losses.aggregation import step_normaliser
from agentrl.losses.drift import approx_kl
from agentrl.losses.entropy_control import next_entropy_coef
from agentrl.losses.policy import POLICY_LOSSES, PolicyLoss, PolicyLossOptions
from agentrl.losses.ppo import clip_bias_weight, entropy_from_logits, low_var_kl
from agentrl.losses.ratios import rejected_by_mask, segment_ids, truncated_discrepancy_weight
from agentrl.policy.lora import adapters_disabled, has_adapters
from agentrl.registry import UnknownNameError
from agentrl.types import Trajectory


def policy_loss_for(settings: LearnerSettings) -> PolicyLoss:
    """The registered loss `learner.policy_loss` names. The trainer calls it before loading the model, so
    a misspelt name or a plugin's import error fails first (the registry imports torch, so the torch-free
    config validation cannot look it up)."""
    try:
        return POLICY_LOSSES[settings.policy_loss]
    except UnknownNameError as error:
        raise UnknownNameError(f"learner.policy_loss: {error}") from None


@dataclass(frozen=True)
class _ActionLogits:
    logprobs: torch.Tensor
    logits: torch.Tensor
    values: torch.Tensor | None = None
    """The critic's value of the state before each action token (flat, in layout order like `logprobs`: read
    at the position whose logits predict the token); None without a critic."""


@dataclass(frozen=True)
class _MiniBatchPlan:
    """One optimizer step of an update: its micro-batches (this rank's share, FSDP fillers last) and its own
    §3.4 weights and divisor."""

    micro_batches: list[MicroBatch]
    trained_batches: int
    """The micro-batches before the fillers."""
    weights: dict[int, float]
    """w_i by trajectory index."""
    divisor: float
    value_states: int
    """The critic's states in the mini-batch (all ranks): the value loss's divisor."""


class Learner:
    def __init__(
        self,
        model: PreTrainedModel,
        pad_token_id: int,
        settings: LearnerSettings,
        temperature: float = 1.0,
        critic: bool = False,
        total_steps: int = 1,
    ) -> None:
        self.model = model
        self.total_steps = total_steps
        """The run's updates (trainer.steps): the length of the lr schedule."""
        self.updates = 0
        """Updates taken so far: the lr schedule's position (`state_dict`)."""
        self.pad_token_id = pad_token_id
        self.settings = settings
        self.entropy_coef = settings.entropy_coef
        """The entropy bonus's weight now: fixed, or adapted after each update with `entropy_target`."""
        self.policy_loss = policy_loss_for(settings)
        self.loss_options = PolicyLossOptions(
            eps_low=settings.clip_eps_low, eps_high=settings.clip_eps_high, dual_clip=settings.dual_clip,
            sapo_tau_pos=settings.sapo_tau_pos, sapo_tau_neg=settings.sapo_tau_neg,
            clip_cov_ratio=settings.clip_cov_ratio, clip_cov_lb=settings.clip_cov_lb, clip_cov_ub=settings.clip_cov_ub,
            kl_cov_ratio=settings.kl_cov_ratio, kl_cov_coef=settings.kl_cov_coef,
        )
        self.temperature = temperature
        """The sampler's temperature: log-probs must be of the distribution the tokens were drawn from."""
        # The KL anchor is the policy as it started; it only exists when the KL term is on. With LoRA that is
        # the base the adapters sit on, which never moves: the same module with its adapters off, no copy.
        self.reference = None
        if settings.kl_coef > 0:
            self.reference = adapters_disabled(model) if has_adapters(model) else self._frozen_copy(model)
        if settings.activation_checkpointing:
            checkpoint_activations(model)
        self.group: LearnerGroup | None = None
        """The torch.distributed learner group with `learner.fsdp`; None in one process."""
        if settings.fsdp:
            if critic:
                raise ValueError("learner.fsdp with a critic (turn_ppo) is not built: the value head is not sharded")
            self.group = join_learner_group()
            shard_policy(model, self.group)  # before the optimizer: it must hold the sharded parameters
        self.critic = ValueHead(model.config.hidden_size).to(self.device) if critic else None
        """The value head on the policy's trunk (agentrl/learner/critic.py), for algorithms in
        `agentrl.credit.CRITIC_ALGOS`; None otherwise, and then nothing below changes."""
        self.optimizer = torch.optim.AdamW(
            [p for p in self._trained_parameters() if p.requires_grad],
            lr=settings.lr,
            weight_decay=settings.weight_decay,
        )

    def state_dict(self) -> dict[str, float]:
        """What a resumed learner needs besides weights and optimizer: the lr schedule's position and the
        (adaptive) entropy coefficient."""
        return {"updates": self.updates, "entropy_coef": self.entropy_coef}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.updates = int(state["updates"])
        # checkpoints from before adaptive entropy control carry no coefficient: the configured one holds
        self.entropy_coef = float(state.get("entropy_coef", self.settings.entropy_coef))

    def _set_learning_rate(self) -> None:
        settings = self.settings
        factor = lr_factor(
            self.updates, settings.lr_schedule, settings.warmup_steps, self.total_steps, settings.lr_min_ratio
        )
        for group in self.optimizer.param_groups:
            group["lr"] = settings.lr * factor

    @staticmethod
    def _frozen_copy(model: PreTrainedModel) -> PreTrainedModel:
        reference = copy.deepcopy(model).eval()
        for parameter in reference.parameters():
            parameter.requires_grad_(False)
        return reference

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _trained_parameters(self) -> list[torch.nn.Parameter]:
        """The policy's parameters, and the value head's when there is one: one optimizer, one clip."""
        return list(self.model.parameters()) + (list(self.critic.parameters()) if self.critic else [])

    def supervised_update(self, trajectories: list[Trajectory]) -> dict[str, float]:
        """One AdamW step on the NLL of every turn's action tokens (`agentrl sft`; agentrl/learner/supervised.py),
        packed and clipped as `update` does, on the same lr schedule (one update per call). Advantages and
        behaviour log-probs are not read."""
        sequences = training_sequences(trajectories, require_advantages=False)
        tokens = sum(s.action_tokens for s in sequences)
        self._set_learning_rate()
        self.updates += 1
        if tokens == 0:
            return {"trained_tokens": 0.0}
        self.model.eval()  # dropout off, as in `update`
        self.optimizer.zero_grad(set_to_none=True)
        loss = 0.0
        for rows in self._micro_batch_layouts(sequences):
            batch_loss = action_nll(self._action_logits(self.model, collate(rows, self.pad_token_id)).logprobs, tokens)
            batch_loss.backward()
            loss += float(batch_loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        return {
            "loss": loss, "grad_norm": float(grad_norm), "trained_tokens": float(tokens),
            "lr": float(self.optimizer.param_groups[0]["lr"]),
        }

    def _action_logits(self, model: PreTrainedModel, batch: MicroBatch, with_values: bool = False) -> _ActionLogits:
        """Log-probs of the action tokens (flat, in layout order: row by row) and their logits; with `with_values`
        also the critic's value of the state before each of them, from the same forward pass (shared trunk).

        The LM head runs only at the positions that predict an action token in some row (`logits_to_keep`):
        observations are most of a multi-turn context, and full-vocabulary logits at every position were
        most of the learner's memory (11 GB for 8 SmolLM2 frozenlake episodes) for values never read."""
        mask = batch.target_mask.to(self.device)
        kept_positions = mask.any(dim=0).nonzero().squeeze(-1)
        with compute_precision(self.settings.dtype, self.device):
            output = model(
                input_ids=batch.input_ids.to(self.device),
                position_ids=batch.position_ids.to(self.device),
                attention_mask=None if batch.attention_mask is None else batch.attention_mask.to(self.device),
                output_hidden_states=with_values,
                use_cache=False,  # nothing is generated here; a cache would be written twice under checkpointing
                logits_to_keep=kept_positions,
            )
        action_logits = output.logits[mask[:, kept_positions]].float() / self.temperature
        targets = batch.input_ids[:, 1:].to(self.device)[mask]
        logprobs = torch.log_softmax(action_logits, dim=-1).gather(-1, targets[:, None]).squeeze(-1)
        values = None
        if with_values:
            assert self.critic is not None
            values = self.critic(output.hidden_states[-1][:, :-1][mask])
        return _ActionLogits(logprobs=logprobs, logits=action_logits, values=values)

    @torch.no_grad()
    def assign_values(self, trajectories: list[Trajectory]) -> None:
        """Write the critic's values into every turn: `token_values`, the value of the state before each
        action token (token-level GAE reads them), and `value` = `token_values[0]`, the turn's state h_t
        (turn-level GAE). After the rollout, before credit assignment. A turn without action tokens
        (and every turn of a trajectory without any) is never trained on: it gets value 0.0 and no
        token values, so that credit assignment has a number to read."""
        if self.critic is None:
            raise ValueError("this learner has no critic; it is built for the algorithms in agentrl.credit.CRITIC_ALGOS")
        for trajectory in trajectories:
            for turn in trajectory.turns:
                turn.value, turn.token_values = 0.0, []
        for index, turn_index, values in self._per_token(trajectories, with_values=True):
            turn = trajectories[index].turns[turn_index]
            turn.token_values = values
            turn.value = values[0]

    @torch.no_grad()
    def action_logprobs(self, trajectories: list[Trajectory]) -> list[list[list[float]]]:
        """Log-probs of every turn's action tokens under the current weights: [trajectory][turn][token].
        Used as π_old for multi-epoch updates, and to prove the learner sees what the sampler saw."""
        out: list[list[list[float]]] = [[[] for _ in t.turns] for t in trajectories]
        for index, turn_index, logprobs in self._per_token(trajectories, with_values=False):
            out[index][turn_index] = logprobs
        return out

    @torch.no_grad()
    def _per_token(
        self, trajectories: list[Trajectory], with_values: bool
    ) -> list[tuple[int, int, list[float]]]:
        """(trajectory index, turn index, per-action-token numbers) of every turn with action tokens, under
        the current weights in eval mode: the critic's values with `with_values`, else the log-probs."""
        was_training = self.model.training
        self.model.eval()
        out: list[tuple[int, int, list[float]]] = []
        sequences = training_sequences(trajectories, require_advantages=False)
        for rows in self._micro_batch_layouts(sequences):
            batch = collate(rows, self.pad_token_id)
            result = self._action_logits(self.model, batch, with_values=with_values)
            flat = iter((result.values if with_values else result.logprobs).cpu().tolist())  # type: ignore[union-attr]
            for sequence in batch.sequences:
                for turn_index in sequence.action_turns:
                    turn = trajectories[sequence.trajectory_index].turns[turn_index]
                    out.append((sequence.trajectory_index, turn_index, [next(flat) for _ in turn.action_ids]))
        self.model.train(was_training)
        return out

    def update(self, trajectories: list[Trajectory]) -> dict[str, float]:
        """One policy update on the trajectories that carry advantages: `epochs` passes over
        `mini_batches` optimizer steps each. Returns loss statistics (means over the update)."""
        sequences = training_sequences(trajectories)
        total_tokens = sum(s.action_tokens for s in sequences)
        self._set_learning_rate()
        self.updates += 1  # a step with nothing to train still moves the schedule: it counts trainer steps
        if total_tokens == 0:
            return {"trained_tokens": 0.0}
        if self.critic is not None and any(not s.value_mask for s in sequences):
            raise ValueError("with a critic every trained turn needs a value: call assign_values before credit")
        plans = [self._plan(part) for part in split_into_mini_batches(sequences, self.settings.mini_batches)]
        # π_old is the policy before the update's first optimizer step; with one step it is the weights of
        # that step's own forward pass (detached, no second pass), otherwise it is computed now, once.
        old_logprobs = self._old_logprobs(plans) if len(plans) * self.settings.epochs > 1 else None
        self.model.eval()  # dropout off: the sampler's numbers must be reproducible here
        sums = dict.fromkeys(
            (
                "loss", "clipped", "clipped_turns", "turns", "entropy", "kl", "ratio", "ratio_sq", "behaviour_gap",
                "tis_weight", "mis_rejected", "clip_bias_weight", "approx_kl", "approx_kl_k3", "cov_selected",
            ),
            0.0,
        )
        if self.critic is not None:
            sums["value_loss"] = 0.0
        ratio_low, ratio_high = math.inf, -math.inf
        grad_norms: list[float] = []
        for _ in range(self.settings.epochs):
            for plan_index, plan in enumerate(plans):
                self.optimizer.zero_grad(set_to_none=True)
                for index, batch in enumerate(plan.micro_batches):
                    filler = index >= plan.trained_batches  # zero weight: runs FSDP's collectives, adds nothing
                    sequence_weights = torch.tensor(
                        [0.0 if filler else plan.weights[s.trajectory_index] for s in batch.sequences]
                    )
                    old = old_logprobs[plan_index][index] if old_logprobs else None
                    step_sums = self._accumulate(batch, old, sequence_weights, plan.divisor, plan.value_states)
                    if not filler:
                        ratio_low = min(ratio_low, step_sums.pop("ratio_min"))
                        ratio_high = max(ratio_high, step_sums.pop("ratio_max"))
                        for key, value in step_sums.items():
                            sums[key] += value
                parameters = self._trained_parameters() if self.critic else self.model.parameters()
                grad_norms.append(full_norm(torch.nn.utils.clip_grad_norm_(parameters, self.settings.grad_clip)))
                self.optimizer.step()
        trained_batches = sum(plan.trained_batches for plan in plans)
        if self.group:  # step-wide statistics; each turn was trained on exactly one rank
            sums = summed_over_ranks(sums | {"micro_batches": float(trained_batches)})
            trained_batches = int(sums.pop("micro_batches"))
            ratio_low, ratio_high = extremes_over_ranks(ratio_low, ratio_high)
        passes = self.settings.epochs
        optimizer_steps = len(plans) * passes
        per_token_mean = {key: value / (total_tokens * passes) for key, value in sums.items()}
        critic_stats = {}
        if self.critic is not None:
            states = [s.value_states for s in sequences]
            old_values = [v for olds, _ in states for v in olds]
            targets = [r for _, step_targets in states for r in step_targets]
            value_states = sum(plan.value_states for plan in plans)
            critic_stats = {
                # mean over the critic's states and epochs, before value_coef; its weighted share is in `loss`
                "value_loss": sums["value_loss"] / (max(value_states, 1) * passes),
                # of the rollout values against their targets, as CleanRL logs it
                "explained_variance": explained_variance(old_values, targets),
            }
        ratio_mean = per_token_mean["ratio"]
        entropy_coef = self.entropy_coef  # the weight this update trained with
        if self.settings.entropy_target is not None:
            self.entropy_coef = next_entropy_coef(
                entropy_coef, per_token_mean["entropy"], self.settings.entropy_target,
                self.settings.entropy_coef_lr, self.settings.entropy_coef_max,
            )
        return critic_stats | {
            "loss": sums["loss"] / optimizer_steps,  # each optimizer step's loss has its own normaliser
            "clip_fraction": per_token_mean["clipped"],
            "clip_fraction_turn": sums["clipped_turns"] / sums["turns"],
            "entropy": per_token_mean["entropy"],
            "kl": per_token_mean["kl"],
            "ratio_mean": ratio_mean,
            "ratio_std": math.sqrt(max(per_token_mean["ratio_sq"] - ratio_mean**2, 0.0)),
            "ratio_min": ratio_low,
            "ratio_max": ratio_high,
            "approx_kl": per_token_mean["approx_kl"],
            "approx_kl_k3": per_token_mean["approx_kl_k3"],
            "behaviour_logprob_gap": per_token_mean["behaviour_gap"],
            "tis_weight_mean": per_token_mean["tis_weight"],
            "mis_rejected_share": per_token_mean["mis_rejected"],
            "clip_bias_weight_mean": per_token_mean["clip_bias_weight"],
            "cov_selected_share": per_token_mean["cov_selected"],
            "entropy_coef": entropy_coef,
            "grad_norm": sum(grad_norms) / len(grad_norms),
            "trained_tokens": float(total_tokens),
            "micro_batches": float(trained_batches),
            "optimizer_steps": float(optimizer_steps),
            "lr": float(self.optimizer.param_groups[0]["lr"]),
        }

    def _plan(self, sequences: list[TrainingSequence]) -> _MiniBatchPlan:
        """One optimizer step's micro-batches and its own §3.4 normaliser (from its trajectories' lengths)."""
        mine = rank_share(sequences, self.group) if self.group else sequences
        micro_batches = [collate(rows, self.pad_token_id) for rows in self._micro_batch_layouts(mine)]
        trained_batches = len(micro_batches)
        if self.group:  # FSDP: every rank runs as many passes as the busiest (agentrl/learner/distributed.py)
            filler = micro_batches[-1] if micro_batches else collate([sequences[:1]], self.pad_token_id)
            micro_batches += [filler] * (most_over_ranks(trained_batches) - trained_batches)
        # §3.4: weights and divisor come from the whole mini-batch, so splitting it cannot change the loss. The
        # unit is the trajectory, however many sequences a windowed context split it into.
        trajectory_tokens: dict[int, int] = {}
        for s in sequences:
            trajectory_tokens[s.trajectory_index] = trajectory_tokens.get(s.trajectory_index, 0) + s.action_tokens
        normaliser = step_normaliser(
            self.settings.aggregation, list(trajectory_tokens.values()), self.settings.constant_length
        )
        return _MiniBatchPlan(
            micro_batches=micro_batches,
            trained_batches=trained_batches,
            weights=dict(zip(trajectory_tokens, normaliser.sequence_weights, strict=True)),
            divisor=normaliser.divisor,
            value_states=sum(sum(s.value_mask) for s in sequences),
        )

    def _micro_batch_layouts(self, sequences: list[TrainingSequence]) -> list[Rows]:
        return pack_micro_batches(sequences, self.settings.micro_batch_tokens, self.settings.packing)

    @torch.no_grad()
    def _old_logprobs(self, plans: list[_MiniBatchPlan]) -> list[list[torch.Tensor]]:
        """π_old for the clipped ratio, per mini-batch and micro-batch, under the weights before any step."""
        self.model.eval()
        return [[self._action_logits(self.model, batch).logprobs.detach() for batch in plan.micro_batches] for plan in plans]

    def _accumulate(
        self,
        batch: MicroBatch,
        old: torch.Tensor | None,
        sequence_weights: torch.Tensor,
        divisor: float,
        value_states: int = 0,
    ) -> dict[str, float]:
        settings = self.settings
        current = self._action_logits(self.model, batch, with_values=self.critic is not None)
        mask = batch.target_mask.to(self.device)
        advantages = batch.advantages.to(self.device)[mask]
        behaviour = batch.behaviour_logprobs.to(self.device)[mask]
        if not settings.decoupled:  # coupled PPO: the sampler's log-probs are π_old
            old_logprobs = behaviour
        else:
            old_logprobs = current.logprobs.detach() if old is None else old
        sequence_index, owners, turns = (t.to(self.device) for t in batch.action_sequences_and_turns())
        ratio_segments = segment_ids(settings.ratio_level, owners, turns)
        surrogate = self.policy_loss(current.logprobs, old_logprobs, advantages, ratio_segments, self.loss_options)
        # §3.5: π_θ/μ = (π_θ/π_old)·(π_old/μ); the clip sees the first factor, the second reweights the
        # policy-gradient term only (as verl's TIS does), not the entropy or KL regularisers.
        is_segments = segment_ids(settings.is_level or settings.ratio_level, owners, turns)
        if settings.decoupled:
            tis_weight = truncated_discrepancy_weight(old_logprobs, behaviour, settings.tis_cap, is_segments)
            bounds = tuple(settings.mis_bounds) if settings.mis_bounds else None
            rejected = rejected_by_mask(old_logprobs, behaviour, bounds, is_segments)  # type: ignore[arg-type]
        else:
            tis_weight = torch.ones_like(old_logprobs)
            rejected = torch.zeros_like(old_logprobs, dtype=torch.bool)
        tis_weight = torch.where(rejected, 0.0, tis_weight)
        per_token = tis_weight * surrogate.loss
        turn_segments = segment_ids("turn", owners, turns)
        bias_weight = torch.ones_like(per_token)
        if settings.clip_bias_correction:
            # §3.3: the unit is the turn, or the whole trajectory when the ratio is per sequence.
            unit = ratio_segments if settings.ratio_level == "sequence" else turn_segments
            bias_weight = clip_bias_weight(
                current.logprobs, old_logprobs, unit, settings.clip_eps_low, settings.clip_eps_high
            )
            per_token = bias_weight * per_token
        entropy = entropy_from_logits(current.logits)
        if self.entropy_coef:
            per_token = per_token - self.entropy_coef * entropy
        kl = torch.zeros_like(per_token)
        if self.reference is not None:
            with torch.no_grad():
                reference = self._action_logits(self.reference, batch).logprobs
            kl = low_var_kl(current.logprobs, reference)
            per_token = per_token + settings.kl_coef * kl
        token_weights = sequence_weights.to(self.device)[sequence_index]  # §3.4 aggregation, step-wide
        loss = (per_token * token_weights).sum() / divisor
        critic_sums = {}
        if current.values is not None:
            # Mean over the step's critic states (turn boundaries, or every action token's state with token-level
            # credit), divided step-wide like the policy loss so micro-batching cannot change it, weighted by
            # value_coef, into the same backward pass through the shared trunk.
            states = batch.value_mask.to(self.device)[mask]
            value_loss = clipped_value_loss(
                current.values[states],
                batch.old_values.to(self.device)[mask][states],
                batch.value_targets.to(self.device)[mask][states],
                settings.value_clip,
            ).sum()
            loss = loss + settings.value_coef * value_loss / max(value_states, 1)
            critic_sums = {"value_loss": float(value_loss.detach())}
        loss.backward()
        ratio = surrogate.ratio.detach()  # at the ratio level, as the clip sees it
        kl_k1, kl_k3 = approx_kl(current.logprobs, old_logprobs)
        return critic_sums | {
            "loss": float(loss.detach()),
            "clipped": float(surrogate.clipped.sum()),
            # a turn counts as clipped when any of its tokens is
            "clipped_turns": float(turn_segments[surrogate.clipped].unique().numel()),
            "turns": float(turn_segments.unique().numel()),
            "entropy": float(entropy.detach().sum()),
            "kl": float(kl.detach().sum()),
            "ratio": float(ratio.sum()),
            "ratio_sq": float((ratio**2).sum()),
            "ratio_min": float(ratio.min()),
            "ratio_max": float(ratio.max()),
            "approx_kl": float(kl_k1.sum()),
            "approx_kl_k3": float(kl_k3.sum()),
            "behaviour_gap": float((old_logprobs - behaviour).abs().sum()),
            "tis_weight": float(tis_weight.sum()),
            "mis_rejected": float(rejected.sum()),
            "clip_bias_weight": float(bias_weight.sum()),
            "cov_selected": 0.0 if surrogate.selected is None else float(surrogate.selected.sum()),
        }
