"""One optimizer step on the same multi-turn batch: agentrl's learner against TRL's GRPOTrainer path.

Both sides start from the same random-weight model (deep copies of one `build_tiny_model`), get the
same synthetic multi-turn trajectories (observation and action token ids, one advantage per
trajectory) and take one AdamW step with a token-mean loss (our `token_mean`, TRL's `bnpo`), so they
do the same optimisation work. What differs is how the batch becomes tensors:

- **agentrl**: trajectories sorted by length and packed into micro-batches under a token budget
  (rows × longest row ≤ `--micro-batch-tokens`), in both `learner.packing` layouts
  (`agentrl/learner/packing.py`): `padded`, one trajectory per row, each micro-batch padded only to
  its own longest row; `flat`, whole trajectories end to end in rows as wide as the longest, position
  ids restarting per trajectory, padded only where no trajectory fits a row's end.
- **TRL**: the layout of GRPOTrainer for multi-turn tool use: the first observation is the prompt
  (left-padded to the longest prompt of the generation batch), everything after it is the completion
  (right-padded to the longest completion), observation tokens inside the completion are excluded by
  `tool_mask`, and the padded batch is split into `--trl-rows` rows per gradient-accumulation step.
  The step runs through `GRPOTrainer.compute_loss` (TRL's own forward, log-prob, clipping and
  normalisation code), `accelerator.backward`, gradient clipping and the trainer's optimizer.

Reported, from one run (median of `--repetitions`, the sides taking turns in a rotating order): real
tokens per second (sequence tokens, padding excluded), the ratios agentrl / TRL and flat / padded, and
the share of the token positions each side computed that were padding.

    pip install -e ".[bench]"
    python bench/learner_vs_trl.py                      # 32 trajectories of 1-8 turns
    python bench/learner_vs_trl.py --trajectories 64 --max-turns 10 --repetitions 5
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # after the offline switches above: no hub client may try the network

from agentrl.learner.learner import Learner
from agentrl.learner.packing import collate, pack_micro_batches, training_sequences
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.tiny import TinyModelShape, build_tiny_model, build_tiny_tokenizer
from agentrl.types import Trajectory, Turn

if TYPE_CHECKING:  # TRL is a bench extra, imported only when the trainer is built
    from transformers import PreTrainedTokenizerBase
    from trl import GRPOTrainer


@dataclass(frozen=True)
class BatchShape:
    trajectories: int
    max_turns: int
    observation_tokens: tuple[int, int]
    action_tokens: tuple[int, int]


def synthetic_trajectories(shape: BatchShape, vocab_size: int, seed: int) -> list[Trajectory]:
    """Episodes of 1..max_turns turns with observation/action lengths drawn uniformly from their ranges;
    one advantage per trajectory (GRPO-style), centred so both signs occur."""
    rng = random.Random(seed)
    trajectories = []
    for index in range(shape.trajectories):
        turns = []
        for _ in range(rng.randint(1, shape.max_turns)):
            observation = [
                rng.randrange(8, vocab_size) for _ in range(rng.randint(*shape.observation_tokens))
            ]
            action = [rng.randrange(8, vocab_size) for _ in range(rng.randint(*shape.action_tokens))]
            turns.append(Turn(observation, action, behaviour_logprobs=[0.0] * len(action), policy_version=0))
        advantage = rng.uniform(-1.0, 1.0)
        trajectories.append(
            Trajectory(
                task_id=f"task-{index // 8}",
                group_id=f"group-{index // 8}",
                env_name="synthetic",
                seed=index,
                turns=turns,
                advantages=[advantage] * len(turns),
            )
        )
    return trajectories


@dataclass(frozen=True)
class Side:
    seconds: float
    computed_positions: int


def real_tokens(trajectories: list[Trajectory]) -> int:
    return sum(len(t.observation_ids) + len(t.action_ids) for tr in trajectories for t in tr.turns)


def agentrl_step(
    model: torch.nn.Module, pad_token_id: int, trajectories: list[Trajectory], budget: int, packing: str
) -> Side:
    # tis_cap off: the synthetic behaviour log-probs are not a real sampler's, as TRL gets none either.
    settings = LearnerSettings(lr=1e-4, micro_batch_tokens=budget, tis_cap=None, packing=packing)
    learner = Learner(model, pad_token_id, settings)
    layouts = pack_micro_batches(training_sequences(trajectories), budget, packing)
    positions = sum(collate(rows, pad_token_id).input_ids.numel() for rows in layouts)
    started = time.perf_counter()
    learner.update(trajectories)
    return Side(time.perf_counter() - started, positions)


def trl_inputs(trajectories: list[Trajectory], pad_token_id: int) -> dict[str, torch.Tensor]:
    """The tensors GRPOTrainer builds for a generation batch: left-padded prompts (first observation),
    right-padded completions (the rest), `tool_mask` = 0 on observation tokens inside completions."""
    prompts = [t.turns[0].observation_ids for t in trajectories]
    completions, tool_masks = [], []
    for trajectory in trajectories:
        ids, keep = list(trajectory.turns[0].action_ids), [1] * len(trajectory.turns[0].action_ids)
        for turn in trajectory.turns[1:]:
            ids += turn.observation_ids + turn.action_ids
            keep += [0] * len(turn.observation_ids) + [1] * len(turn.action_ids)
        completions.append(ids)
        tool_masks.append(keep)
    rows, prompt_len, completion_len = len(trajectories), max(map(len, prompts)), max(map(len, completions))
    prompt_ids = torch.full((rows, prompt_len), pad_token_id, dtype=torch.long)
    prompt_mask = torch.zeros((rows, prompt_len), dtype=torch.long)
    completion_ids = torch.full((rows, completion_len), pad_token_id, dtype=torch.long)
    completion_mask = torch.zeros((rows, completion_len), dtype=torch.long)
    tool_mask = torch.zeros((rows, completion_len), dtype=torch.long)
    for row, (prompt, completion, keep) in enumerate(zip(prompts, completions, tool_masks, strict=True)):
        prompt_ids[row, prompt_len - len(prompt) :] = torch.tensor(prompt)
        prompt_mask[row, prompt_len - len(prompt) :] = 1
        completion_ids[row, : len(completion)] = torch.tensor(completion)
        completion_mask[row, : len(completion)] = 1
        tool_mask[row, : len(keep)] = torch.tensor(keep)
    advantages = torch.tensor([t.advantages[0] for t in trajectories], dtype=torch.float32)  # type: ignore[index]
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "tool_mask": tool_mask,
        "advantages": advantages,
        "num_items_in_batch": (completion_mask * tool_mask).sum(),
    }


def build_trl_trainer(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, rows: int, accumulation: int, output_dir: str
) -> GRPOTrainer:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    config = GRPOConfig(
        output_dir=output_dir,
        per_device_train_batch_size=rows,
        gradient_accumulation_steps=accumulation,
        num_generations=rows,
        learning_rate=1e-4,
        loss_type="bnpo",
        beta=0.0,
        use_cpu=True,
        report_to=[],
        max_grad_norm=1.0,
        save_strategy="no",
        logging_strategy="no",
    )
    dataset = Dataset.from_dict({"prompt": ["unused"] * rows * accumulation})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
        )
    trainer.create_optimizer()
    # Set by Trainer's own train loop, which we bypass (it would generate): bnpo divides by it.
    trainer.current_gradient_accumulation_steps = accumulation
    return trainer


def trl_step(trainer: GRPOTrainer, trajectories: list[Trajectory], pad_token_id: int, rows: int) -> Side:
    inputs = trl_inputs(trajectories, pad_token_id)
    batch = len(trajectories)
    chunks = [
        {k: (v[i : i + rows] if v.dim() else v) for k, v in inputs.items()} for i in range(0, batch, rows)
    ]
    positions = inputs["prompt_ids"].numel() + inputs["completion_ids"].numel()
    model = trainer.model
    model.train()
    started = time.perf_counter()
    trainer.optimizer.zero_grad(set_to_none=True)
    for chunk in chunks:
        loss = trainer.compute_loss(model, chunk)
        trainer.accelerator.backward(loss)
    torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.args.max_grad_norm)
    trainer.optimizer.step()
    return Side(time.perf_counter() - started, positions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trajectories", type=int, default=32)
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--micro-batch-tokens", type=int, default=8192)
    parser.add_argument("--trl-rows", type=int, default=8, help="rows per TRL gradient-accumulation step")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.trajectories % args.trl_rows:
        parser.error("--trajectories must be a multiple of --trl-rows")

    tokenizer = build_tiny_tokenizer(None)
    shape = TinyModelShape(
        hidden_size=args.hidden_size,
        num_layers=args.layers,
        num_heads=4,
        intermediate_size=4 * args.hidden_size,
        max_positions=8192,
    )
    base = build_tiny_model(tokenizer, shape, seed=args.seed)
    pad = tokenizer.pad_token_id
    batch = synthetic_trajectories(
        BatchShape(args.trajectories, args.max_turns, (20, 120), (5, 60)), tokenizer.vocab_size, args.seed
    )
    tokens = real_tokens(batch)
    print(
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"model: {sum(p.numel() for p in base.parameters()):,} parameters; batch: {len(batch)} trajectories, "
        f"{sum(len(t.turns) for t in batch)} turns, {tokens:,} tokens"
    )
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = build_trl_trainer(
            copy.deepcopy(base), tokenizer, args.trl_rows, args.trajectories // args.trl_rows, output_dir
        )
        ours = {packing: copy.deepcopy(base) for packing in ("padded", "flat")}

        def step(side: str) -> Side:
            if side == "trl":
                return trl_step(trainer, batch, pad, args.trl_rows)
            packing = side.removeprefix("agentrl ")
            return agentrl_step(ours[packing], pad, batch, args.micro_batch_tokens, packing)

        sides = ["agentrl padded", "agentrl flat", "trl"]
        for side in sides:  # warm-up
            step(side)
        results: dict[str, list[Side]] = {side: [] for side in sides}
        for repetition in range(args.repetitions):
            for side in sides[repetition % 3 :] + sides[: repetition % 3]:
                results[side].append(step(side))
    print("\n| side | s per step (median) | tokens/s | positions computed | padding share |")
    print("|---|---|---|---|---|")
    throughput = {}
    for side, runs in results.items():
        seconds = statistics.median(r.seconds for r in runs)
        positions = runs[0].computed_positions
        throughput[side] = tokens / seconds
        print(
            f"| {side} | {seconds:.3f} | {throughput[side]:,.0f} | {positions:,} | {1 - tokens / positions:.1%} |"
        )
    print(
        f"\nratio agentrl padded / TRL: {throughput['agentrl padded'] / throughput['trl']:.2f}x, "
        f"agentrl flat / TRL: {throughput['agentrl flat'] / throughput['trl']:.2f}x, "
        f"flat / padded: {throughput['agentrl flat'] / throughput['agentrl padded']:.2f}x"
    )


if __name__ == "__main__":
    main()
