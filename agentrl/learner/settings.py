"""The `learner` config section: optimizer, policy loss, importance weights, precision, sharding.

Torch-free, so that reading a config imports neither torch nor FSDP: the name tuples the checks need
are defined here and the modules that implement them (packing.py, precision.py, losses/ratios.py) import
them. The policy loss is looked up in its registry (which imports torch) by `policy_loss_for` in
agentrl/learner/learner.py, before the trainer loads the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentrl.learner.schedule import LR_SCHEDULES
from agentrl.losses.aggregation import AGGREGATIONS

PACKINGS = ("padded", "flat")
"""padded: one sequence per row, each micro-batch padded to its longest row. flat: whole sequences laid
end to end in rows as wide as the micro-batch's longest sequence, position ids restarting at 0 for each,
so the model attends only within a sequence and padding is left only where no sequence fits a row."""
RATIO_LEVELS = ("token", "turn", "sequence")
"""token: PPO (Schulman et al. 2017); turn: Turn-PPO / ST-PPO (arXiv 2511.20718); sequence: GSPO
(Zheng et al. 2025, arXiv 2507.18071)."""
COMPUTE_DTYPES = ("float32", "bfloat16")
"""`learner.dtype` values (agentrl/learner/precision.py)."""


@dataclass
class LearnerSettings:
    """Optimizer and policy-loss settings (the `learner` config section)."""

    lr: float = 1e-3
    lr_schedule: str = "constant"
    """`constant`, `linear` or `cosine` decay of `lr` over `trainer.steps` updates, after the warmup
    (agentrl/learner/schedule.py); the update count is in the checkpoint, so a resumed run continues it."""
    warmup_steps: int = 0
    """Updates of linear warmup from lr/W up to lr."""
    lr_min_ratio: float = 0.0
    """The floor of the linear/cosine decay, as a share of `lr`."""
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    """Max global gradient norm."""
    micro_batch_tokens: int = 8192
    """Token budget (rows × longest row) of one forward/backward pass."""
    packing: str = "flat"
    """How a micro-batch's sequences become rows: `flat` (several end to end per row, position ids restarting
    per sequence so none attends to another; padding only where no whole sequence fits a row's end) or
    `padded` (one per row, padded to the longest). The update is the same either way; flat computes fewer
    positions, so it is the default (bench/README.md, learner_vs_trl). See agentrl/learner/packing.py."""
    epochs: int = 1
    """Passes over each step's data."""
    mini_batches: int = 1
    """Optimizer steps per epoch: the step's trajectories are cut, in order, into this many mini-batches
    (agentrl/learner/mini_batches.py), each with its own aggregation normaliser. With more than one
    optimizer step per update (mini_batches × epochs > 1) π_old is computed once, before the first."""
    clip_eps_low: float = 0.2
    clip_eps_high: float = 0.2
    """Set 0.28 for DAPO's clip-higher."""
    entropy_coef: float = 0.0
    """Entropy bonus; the from-scratch GRPO demo needs 0.05 (docs/cpu-learning.md). With `entropy_target`
    its initial value."""
    entropy_target: float | None = None
    """Adaptive entropy control (agentrl/losses/entropy_control.py): after each update the coefficient moves
    by `entropy_coef_lr` × (target − the update's mean token entropy), clamped to [0, entropy_coef_max];
    it is checkpointed and logged as `entropy_coef`. None keeps `entropy_coef` fixed."""
    entropy_coef_lr: float = 0.005
    """Step size η of the adaptive coefficient, per nat of entropy gap."""
    entropy_coef_max: float = 0.1
    """Upper clamp of the adaptive coefficient."""
    kl_coef: float = 0.0
    """Weight of the low-variance KL to the initial policy; 0 keeps no reference model."""
    ratio_level: str = "token"
    """Which tokens share one importance ratio: `token` (PPO), `turn` (Turn-PPO: a turn is one action,
    so its tokens move together), `sequence` (GSPO). See agentrl/losses/ratios.py."""
    policy_loss: str = "ppo"
    """The surrogate, by name in the policy-loss registry (agentrl/losses/policy.py; plugins add more):
    `ppo` (clipped, with `dual_clip`), `cispo` (MiniMax-M1: the clipped IS weight, gradient stopped, times
    A·log π), `sapo` (a soft sigmoid gate instead of the clip, temperatures `sapo_tau_pos`/`sapo_tau_neg`),
    `clip_cov` (PPO with a few high-covariance tokens detached) or `kl_cov` (unclipped, with a |log-ratio|
    penalty on the highest-covariance tokens). `clip_eps_low/high` are CISPO's weight bounds too."""
    sapo_tau_pos: float = 1.0
    sapo_tau_neg: float = 1.05
    """SAPO's gate temperatures for positive and negative advantages (larger: damped sooner)."""
    clip_cov_ratio: float = 2e-4
    """Clip-Cov: the share of a micro-batch's tokens detached (at least one), drawn at random among those
    whose covariance (log π − mean)·(A − mean) lies in (clip_cov_lb, clip_cov_ub) (agentrl/losses/covariance.py)."""
    clip_cov_lb: float = 1.0
    clip_cov_ub: float = 5.0
    kl_cov_ratio: float = 2e-3
    """KL-Cov: the share of a micro-batch's tokens (at least one, the largest covariances) penalised."""
    kl_cov_coef: float = 1.0
    """KL-Cov: weight β of the penalty |log π − log π_old| on those tokens."""
    dual_clip: float | None = None
    """Dual-clip bound c > 1 for negative advantages (3 is typical); None turns it off."""
    decoupled: bool = True
    """The decoupled objective (Hilton et al. 2022; AReaL): the clip is centred at π_prox = the learner's
    pre-update log-probs, and the behaviour weight π_prox/μ (truncated by `tis_cap`, masked by
    `mis_bounds`) corrects for the sampler μ. False: coupled PPO, π_old := μ (the sampler's log-probs)
    and no behaviour weight. The two agree on-policy with an exact sampler (π_prox = μ)."""
    tis_cap: float | None = 2.0
    """Truncation C of the off-policy weight π_old/μ (sampler vs learner); None turns the weight off."""
    mis_bounds: list[float] | None = None
    """[lower, upper] of masked importance sampling: tokens (or whole segments at `is_level` turn/sequence)
    whose π_old/μ is outside are left out of the policy-gradient term (`mis_rejected_share`); None: off."""
    is_level: str | None = None
    """Which tokens share one behaviour weight π_old/μ (TIS and MIS): `token`, `turn`, `sequence` (the
    geometric mean over the segment); None follows `ratio_level`."""
    aggregation: str = "token_mean"
    """How per-token losses become the step loss: `token_mean` (every token alike), `seq_mean_token_sum`,
    `seq_mean_token_mean` (every trajectory alike, original GRPO) or `constant` (Dr. GRPO: trajectory
    sums divided by `constant_length`). See agentrl/losses/aggregation.py."""
    constant_length: int | None = None
    """The fixed length L of `aggregation: constant` (the generation budget of a trajectory)."""
    clip_bias_correction: bool = False
    """S-PPO / ST-PPO: weight each turn's loss (the trajectory's at ratio_level sequence) by the share of
    its tokens whose token ratio is inside the clip range, so turns with clipped tokens count less. See
    `agentrl.losses.ppo.clip_bias_weight` (our reading of the paper; its exact form is unverified)."""
    value_coef: float = 0.5
    """Weight of the critic's value loss in the step loss (algorithms with a critic only, e.g. turn_ppo);
    the logged `loss` includes it, `value_loss` is logged on its own."""
    value_clip: float | None = 0.2
    """ε_v of the clipped value loss: a value moves at most this far from its rollout value per update
    before its gradient stops; None turns the clip off."""
    dtype: str = "float32"
    """Compute precision of the forward/backward pass: `float32`, or `bfloat16` (autocast; parameters and
    optimizer state stay float32). See agentrl/learner/precision.py."""
    activation_checkpointing: bool = False
    """Recompute each decoder layer's activations in the backward pass: less memory for long contexts,
    about one more forward pass of compute; the gradients are unchanged."""
    fsdp: bool = False
    """Shard the policy with FSDP2 over a torch.distributed group (torchrun) and split each step across its
    ranks. See agentrl/learner/distributed.py and docs/scaling.md."""
    weight_sync_timeout_s: float = 300.0
    """A weight sync to the rollout engine that takes longer fails the run (instead of hanging it)."""

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"learner.aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}"
            )
        if self.aggregation == "constant" and (self.constant_length is None or self.constant_length <= 0):
            raise ValueError(
                f"learner.aggregation=constant needs learner.constant_length > 0 (the max trajectory length "
                f"in action tokens), got {self.constant_length}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"learner.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.warmup_steps < 0:
            raise ValueError(f"learner.warmup_steps must be >= 0 (0: no warmup), got {self.warmup_steps}")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            raise ValueError(f"learner.lr_min_ratio must be in [0, 1], got {self.lr_min_ratio}")
        if self.mini_batches < 1:
            raise ValueError(
                f"learner.mini_batches must be >= 1 (optimizer steps per epoch; 1 = one step over the whole "
                f"batch), got {self.mini_batches}"
            )
        if self.packing not in PACKINGS:
            raise ValueError(f"learner.packing must be one of {', '.join(PACKINGS)}, got {self.packing!r}")
        if self.ratio_level not in RATIO_LEVELS:
            raise ValueError(
                f"learner.ratio_level must be one of {', '.join(RATIO_LEVELS)}, got {self.ratio_level!r}"
            )
        if not (0.0 < self.clip_cov_ratio <= 1.0 and 0.0 < self.kl_cov_ratio <= 1.0):
            raise ValueError(
                f"learner.clip_cov_ratio and kl_cov_ratio must be in (0, 1] (the paper's are 2e-4 and 2e-3), got "
                f"{self.clip_cov_ratio} and {self.kl_cov_ratio}"
            )
        if self.clip_cov_lb >= self.clip_cov_ub:
            raise ValueError(
                f"learner.clip_cov_lb must be below clip_cov_ub (the paper's are 1 and 5), got {self.clip_cov_lb} "
                f"and {self.clip_cov_ub}"
            )
        if self.kl_cov_coef < 0.0:
            raise ValueError(f"learner.kl_cov_coef must be >= 0 (the paper's is 1), got {self.kl_cov_coef}")
        if self.entropy_target is not None:
            if self.entropy_target < 0.0 or self.entropy_coef_lr <= 0.0:
                raise ValueError(
                    f"learner.entropy_target must be >= 0 and entropy_coef_lr > 0, got {self.entropy_target} and "
                    f"{self.entropy_coef_lr}"
                )
            if not 0.0 <= self.entropy_coef <= self.entropy_coef_max:
                raise ValueError(
                    f"with learner.entropy_target, entropy_coef (the initial coefficient) must be in "
                    f"[0, entropy_coef_max={self.entropy_coef_max}], got {self.entropy_coef}"
                )
        if self.sapo_tau_pos <= 0.0 or self.sapo_tau_neg <= 0.0:
            raise ValueError(
                f"learner.sapo_tau_pos and sapo_tau_neg must be > 0 (1.0 and 1.05 are the paper's), got "
                f"{self.sapo_tau_pos} and {self.sapo_tau_neg}"
            )
        if self.mis_bounds is not None and not (
            len(self.mis_bounds) == 2 and 0.0 <= self.mis_bounds[0] < 1.0 < self.mis_bounds[1]
        ):
            raise ValueError(
                f"learner.mis_bounds must be [lower, upper] with 0 <= lower < 1 < upper (e.g. [0.5, 2.0]) or "
                f"null, got {self.mis_bounds}"
            )
        if self.is_level is not None and self.is_level not in RATIO_LEVELS:
            raise ValueError(
                f"learner.is_level must be one of {', '.join(RATIO_LEVELS)} or null (follow ratio_level), "
                f"got {self.is_level!r}"
            )
        if self.dual_clip is not None and self.dual_clip <= 1.0:
            raise ValueError(f"learner.dual_clip must be > 1 (3 is typical) or null, got {self.dual_clip}")
        if self.tis_cap is not None and self.tis_cap <= 0.0:
            raise ValueError(f"learner.tis_cap must be > 0 (2 is typical) or null, got {self.tis_cap}")
        if self.value_coef < 0.0:
            raise ValueError(f"learner.value_coef must be ≥ 0 (0.5 is typical), got {self.value_coef}")
        if self.value_clip is not None and self.value_clip <= 0.0:
            raise ValueError(f"learner.value_clip must be > 0 (0.2 is typical) or null, got {self.value_clip}")
        if self.dtype not in COMPUTE_DTYPES:
            raise ValueError(f"learner.dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {self.dtype!r}")
        if self.weight_sync_timeout_s <= 0.0:
            raise ValueError(f"learner.weight_sync_timeout_s must be > 0, got {self.weight_sync_timeout_s}")
