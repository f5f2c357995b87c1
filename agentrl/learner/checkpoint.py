"""Atomic learner checkpoints: `checkpoints/step_000012/` is either complete or absent.

A checkpoint is written into a hidden temp directory beside its final place, every file is fsynced,
and only then is the directory renamed to `step_NNNNNN`. A kill at any moment leaves at worst a
`.tmp-*` directory, which `latest_checkpoint` never returns, so resume always starts from a whole one.

    model.safetensors   weights; tied tensors (embeddings/lm_head) are stored once by safetensors'
                        save_model and re-tied by load_model
    adapter_model.safetensors, adapter_config.json
                        instead of model.safetensors with `model.lora`: the LoRA adapters alone, in peft's
                        format (agentrl/policy/lora.py); the base weights come from the run's model config
    value_head.safetensors  the critic's value head (agentrl/learner/critic.py), only for algorithms
                        with a critic; its moments are in optimizer.pt, which covers both
    optimizer.pt        optimizer.state_dict() (a learner group's gathered whole state, in the same format)
    rng.pt              python `random`, numpy (if installed), torch CPU and CUDA generator states
    state.json          {"step": 12, **trainer_state}: task cursor and whatever else the trainer needs

RNG states are restored too, so a resumed run draws the same numbers as an uninterrupted one. An FSDP
learner group (agentrl/trainer/distributed_loop.py) writes the same files from rank 0's whole copies, so
its checkpoints load into one process and back.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from agentrl.policy.lora import ADAPTER_WEIGHTS, has_adapters, load_adapter, save_adapter

try:
    import numpy
except ImportError:  # numpy is optional: without it there is no numpy generator to restore
    numpy = None

STEP_DIR = re.compile(r"step_(\d+)")
TEMP_PREFIX = ".tmp-"


def save_checkpoint(
    directory: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | dict[str, Any],
    trainer_state: dict[str, Any],
    keep: int = 2,
    value_head: torch.nn.Module | None = None,
) -> Path:
    """Write `directory/step_NNNNNN/` atomically and delete all but the newest `keep` checkpoints.
    `optimizer` is the optimizer or its `state_dict()` (a sharded one's, gathered whole)."""
    if keep < 1:
        raise ValueError(f"keep={keep}: at least the checkpoint just written must be kept")
    if trainer_state.get("step", step) != step:
        raise ValueError(f"trainer_state carries step={trainer_state['step']!r} but step={step} is saved")
    state = {"step": step, **trainer_state}
    try:
        state_json = json.dumps(state, indent=2)
    except TypeError as error:
        raise TypeError(f"trainer_state must be JSON-serialisable ({error}); store plain values") from error

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step_{step:06d}"
    for leftover in directory.glob(f"{TEMP_PREFIX}*"):
        # Temp directories of killed saves hold a whole model each; nothing can still be writing them
        # because one learner saves at a time.
        shutil.rmtree(leftover)
    temp = Path(tempfile.mkdtemp(dir=directory, prefix=f"{TEMP_PREFIX}{final.name}-"))
    try:
        if has_adapters(model):
            save_adapter(model, temp)
        else:
            save_model(model, str(temp / "model.safetensors"), force_contiguous=True)
        if value_head is not None:
            save_model(value_head, str(temp / "value_head.safetensors"), force_contiguous=True)
        torch.save(optimizer if isinstance(optimizer, dict) else optimizer.state_dict(), temp / "optimizer.pt")
        torch.save(_rng_states(), temp / "rng.pt")
        (temp / "state.json").write_text(state_json + "\n", encoding="utf-8")
        for written in temp.iterdir():
            _fsync(written)
        _fsync(temp)
        replaced = directory / f"{TEMP_PREFIX}{final.name}-replaced"
        if final.exists():
            # Rewriting a step (a resumed run reaching it again): a directory cannot be renamed onto
            # a non-empty one, so the old one moves aside and is deleted once the new one is in place.
            final.rename(replaced)
        temp.rename(final)
        _fsync(directory)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    shutil.rmtree(replaced, ignore_errors=True)
    for stale in _complete_checkpoints(directory)[:-keep]:
        shutil.rmtree(stale)
    return final


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint in `directory`, or None when there is none to resume from."""
    checkpoints = _complete_checkpoints(Path(directory))
    return checkpoints[-1] if checkpoints else None


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    value_head: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Restore weights (and the value head's, when given), optimizer and RNG states in place; return the
    trainer state (with "step"). A checkpoint with a value head resumes only a run with one, and back.
    Without an optimizer its state stays on disk, for `read_optimizer_state` (a sharded optimizer is
    loaded from rank 0's copy)."""
    path = Path(path)
    if not (path / "state.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a complete checkpoint (no state.json); use latest_checkpoint()"
        )
    has_value_head = (path / "value_head.safetensors").is_file()
    if has_value_head != (value_head is not None):
        raise ValueError(
            f"{path} {'holds' if has_value_head else 'has no'} critic value head but the run "
            f"{'has none' if has_value_head else 'needs one'}; resume with the algo the checkpoint was trained with"
        )
    holds_adapters = (path / ADAPTER_WEIGHTS).is_file()
    if holds_adapters != has_adapters(model):
        raise ValueError(
            f"{path} holds {'LoRA adapters' if holds_adapters else 'full weights'} but the run "
            f"{'trains every weight' if holds_adapters else 'trains LoRA adapters'}; resume with the "
            f"model.lora.enabled={str(holds_adapters).lower()} the checkpoint was trained with"
        )
    if holds_adapters:
        load_adapter(model, path)
    else:
        load_model(model, str(path / "model.safetensors"), strict=True)
    if value_head is not None:
        load_model(value_head, str(path / "value_head.safetensors"), strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(read_optimizer_state(path))
    _restore_rng_states(torch.load(path / "rng.pt", weights_only=True))
    return json.loads((path / "state.json").read_text(encoding="utf-8"))


def read_optimizer_state(path: Path) -> dict[str, Any]:
    """The checkpoint's `optimizer.state_dict()`, on the CPU."""
    return torch.load(Path(path) / "optimizer.pt", map_location="cpu", weights_only=True)


def _complete_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint directories oldest first; temp directories never match `step_N`."""
    if not directory.is_dir():
        return []
    found = [
        (int(match.group(1)), entry)
        for entry in directory.iterdir()
        if (match := STEP_DIR.fullmatch(entry.name)) and (entry / "state.json").is_file()
    ]
    return [entry for _, entry in sorted(found)]


def _rng_states() -> dict[str, Any]:
    """Generator states as tensors, ints and lists, so `torch.load(weights_only=True)` can read them."""
    version, python_state, gauss = random.getstate()
    states: dict[str, Any] = {
        "python": [version, list(python_state), gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if numpy is not None:
        numpy_state = numpy.random.get_state(legacy=False)
        numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
        states["numpy"] = numpy_state
    return states


def _restore_rng_states(states: dict[str, Any]) -> None:
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(states["cuda"]):
            torch.cuda.set_rng_state_all(states["cuda"])
        else:
            warnings.warn(
                f"checkpoint holds {len(states['cuda'])} CUDA generator states but "
                f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} GPUs are visible; "
                "CUDA random numbers will differ from the original run",
                stacklevel=3,
            )
    if numpy is not None and "numpy" in states:
        numpy_state = states["numpy"]
        numpy_state["state"]["key"] = numpy.array(numpy_state["state"]["key"], dtype=numpy.uint32)
        numpy.random.set_state(numpy_state)


def _fsync(path: Path) -> None:
    """Flush `path` (file or directory) to disk, so a rename never publishes data still in page cache."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
