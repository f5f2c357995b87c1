"""`agentrl convert <packaged model> [OUT_DIR]`: the Hugging Face directory of a packaged model.

Converts the model on first use (as `model=smollm2` does) and prints its cached directory; with
OUT_DIR, copies the directory there, for `agentrl train model=hf model.path=OUT_DIR`,
`agentrl eval model=OUT_DIR`, vLLM or any other tool that reads Hugging Face checkpoints.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rich.console import Console

from agentrl.policy.packaged import COMPLETE_MARKER, PACKAGED_MODELS, PackagedModelMissing, converted_dir


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentrl convert", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(PACKAGED_MODELS), help="the packaged model")
    parser.add_argument("out", nargs="?", type=Path, help="copy the converted directory here (must not exist)")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    if args.out is not None and args.out.exists():
        console.print(f"[red]agentrl convert:[/red] {args.out} already exists; name a new directory", highlight=False)
        return 2
    try:
        directory = converted_dir(args.model)
    except PackagedModelMissing as error:
        console.print(f"[red]agentrl convert:[/red] {error}", highlight=False)
        return 2
    if args.out is not None:
        shutil.copytree(directory, args.out, ignore=shutil.ignore_patterns(COMPLETE_MARKER))
        directory = args.out
    print(directory)
    return 0
