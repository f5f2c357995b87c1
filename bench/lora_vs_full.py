"""Memory and step time of LoRA against full fine-tuning: the same learner steps on the same model.

Each mode runs in a child process of its own (peak RSS only grows within a process): it loads the
model (`model=smollm2` by default, SmolLM2-135M-Instruct), builds the learner (`model.lora` adapters or
every weight; with `--kl-coef` > 0 also the KL reference: a deep copy for full fine-tuning, the base
with adapters off for LoRA) and runs `--steps` learner updates (plus one warm-up) on fixed synthetic
multi-turn trajectories: random token ids with fixed advantages, the same in every mode.

Reported per mode, and as a ratio to full fine-tuning measured in the same run:
- `train_state_mib`: the bytes the training adds beyond the model's weights, counted from the tensors
  (gradients of the trained parameters, AdamW's two moments, the reference copy). Exact, any device.
- `peak_mib`: on CPU the peak resident set size (ru_maxrss) minus the RSS after loading the model, so
  it includes activations, allocator slack and the backward pass's temporaries; on CUDA
  torch.cuda.max_memory_allocated minus the allocation after loading.
- `step_s`: the median wall time of one `Learner.update` (forward, backward, optimizer step).

    python bench/lora_vs_full.py                          # model=smollm2, r=16 on all 7 projections
    python bench/lora_vs_full.py --kl-coef 0.1 --steps 2  # with the KL reference
    python bench/lora_vs_full.py --model tiny --steps 3   # the tiny random model, seconds
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from agentrl.learner.learner import Learner
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.loading import load_model_and_tokenizer
from agentrl.policy.lora import add_adapters
from agentrl.trainer.config import load_config
from agentrl.types import StepResult, Trajectory, Turn


def rss_mib() -> float:
    """Current resident set size (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def synthetic_trajectories(vocab_size: int, count: int, turns: int, observation: int, action: int) -> list[Trajectory]:
    """Fixed multi-turn trajectories: seeded random ids, one advantage per trajectory (mean 0)."""
    generator = torch.Generator().manual_seed(0)
    trajectories = []
    for index in range(count):
        steps = [
            Turn(
                torch.randint(10, vocab_size, (observation,), generator=generator).tolist(),
                torch.randint(10, vocab_size, (action,), generator=generator).tolist(),
                [-2.0] * action,
                0,
                result=StepResult("synthetic"),
            )
            for _ in range(turns)
        ]
        advantage = (index - (count - 1) / 2) / count
        trajectories.append(
            Trajectory(task_id=f"t{index}", group_id="g", env_name="synthetic", seed=index, turns=steps,
                       advantages=[advantage] * turns)
        )
    return trajectories


def tensor_mib(tensors: list[torch.Tensor]) -> float:
    unique = {t.data_ptr(): t for t in tensors}.values()
    return sum(t.numel() * t.element_size() for t in unique) / 2**20


def measure(args: argparse.Namespace, mode: str) -> dict[str, float | str]:
    torch.manual_seed(0)
    overrides = [f"model={args.model}"]
    if mode == "lora":
        overrides += ["model.lora.enabled=true", f"model.lora.r={args.r}", f"model.lora.alpha={2 * args.r}"]
    config, _ = load_config(overrides)
    model, tokenizer = load_model_and_tokenizer(config.model, None, seed=0)
    device = torch.device(args.device)
    model.to(device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    loaded = torch.cuda.memory_allocated() / 2**20 if cuda else rss_mib()
    weights = tensor_mib(list(model.parameters()))
    if mode == "lora":
        model = add_adapters(model, config.model.lora)
    settings = LearnerSettings(lr=1e-5, micro_batch_tokens=args.micro_batch_tokens, kl_coef=args.kl_coef)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    learner = Learner(model, pad, settings)
    trajectories = synthetic_trajectories(len(tokenizer), args.trajectories, args.turns, args.observation, args.action)
    times = []
    for step in range(args.steps + 1):
        started = time.perf_counter()
        learner.update(trajectories)
        if cuda:
            torch.cuda.synchronize()
        if step:  # the first update is a warm-up (allocator, lazy AdamW state)
            times.append(time.perf_counter() - started)
    trained = [p for group in learner.optimizer.param_groups for p in group["params"]]
    moments = [t for state in learner.optimizer.state.values() for t in state.values() if t.dim() > 0]
    reference = list(learner.reference.parameters()) if isinstance(learner.reference, torch.nn.Module) else []
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mib()
    return {
        "mode": mode,
        "weights_mib": weights,
        "trained_params": float(sum(p.numel() for p in trained)),
        "train_state_mib": tensor_mib([p.grad for p in trained if p.grad is not None] + moments + reference),
        "peak_mib": peak - loaded,
        "step_s": statistics.median(times),
        "tokens": float(sum(len(t.observation_ids) + len(t.action_ids) for tr in trajectories for t in tr.turns)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2", help="a model preset: smollm2 or tiny")
    parser.add_argument("--r", type=int, default=16, help="LoRA rank (alpha = 2r), on all 7 projections")
    parser.add_argument("--kl-coef", type=float, default=0.0, help="> 0 also keeps the KL reference")
    parser.add_argument("--steps", type=int, default=2, help="timed learner steps after one warm-up")
    parser.add_argument("--trajectories", type=int, default=4)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--observation", type=int, default=96, help="observation tokens per turn")
    parser.add_argument("--action", type=int, default=32, help="action tokens per turn")
    parser.add_argument("--micro-batch-tokens", type=int, default=8192)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--mode", choices=("full", "lora"), help=argparse.SUPPRESS)  # a child's one mode
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args, args.mode)))
        return
    results = {}
    for mode in ("full", "lora"):
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--mode", mode], capture_output=True, text=True, check=False
        )
        if child.returncode != 0:
            sys.exit(f"{mode} run failed:\n{child.stderr[-3000:]}")
        results[mode] = json.loads(child.stdout.strip().splitlines()[-1])
    full = results["full"]
    memory = "CUDA max_memory_allocated" if args.device.startswith("cuda") else "CPU peak RSS (ru_maxrss)"
    print(
        f"model={args.model} device={args.device} kl_coef={args.kl_coef} r={args.r} "
        f"tokens/step={full['tokens']:.0f} steps={args.steps} (+1 warm-up); peak = {memory} minus after loading; "
        f"weights {full['weights_mib']:.1f} MiB"
    )
    print(f"{'mode':<6} {'trained params':>15} {'train state MiB':>16} {'peak MiB':>9} {'step s':>8}   ratios to full")
    for mode, row in results.items():
        print(
            f"{mode:<6} {row['trained_params']:>15,.0f} {row['train_state_mib']:>16.1f} {row['peak_mib']:>9.1f} "
            f"{row['step_s']:>8.2f}   params {row['trained_params'] / full['trained_params']:.4f}, "
            f"train state {row['train_state_mib'] / full['train_state_mib']:.3f}, "
            f"peak {row['peak_mib'] / full['peak_mib']:.3f}, step {row['step_s'] / full['step_s']:.3f}"
        )


if __name__ == "__main__":
    main()
