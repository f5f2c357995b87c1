"""`agentrl sft env=<name> [model=...] [demos=N | from_run=RUN_DIR] [key=value ...]` (hydra overrides, as train).

Supervised fine-tuning on the action tokens of successful episodes: the environment's expert
demonstrations of its first N train tasks (`demos=N`, i.e. `sft.demos`), or the successful episodes a
run stored (`from_run=runs/<name>`, i.e. `sft.from_run`: rejection-sampling fine-tuning). Writes
`runs/<run_name>/final/`, a Hugging Face directory: `agentrl train model=hf model.path=<it>` continues
with RL, `agentrl eval model=<it>` evaluates it. Keys: configs/sft.yaml and docs/configuration.md."""

from __future__ import annotations

import sys

from rich.console import Console

from agentrl.env.registry import EnvLoadError, EnvParamsError, UnknownEnvError
from agentrl.errors import ConfigError
from agentrl.trainer.config import load_config

SHORTHANDS = {"demos": "sft.demos", "from_run": "sft.from_run"}


def expand_shorthands(argv: list[str]) -> list[str]:
    """`demos=N` and `from_run=DIR` as the `sft.` keys they stand for; everything else as given."""
    expanded = []
    for argument in argv:
        key, sep, value = argument.partition("=")
        expanded.append(f"{SHORTHANDS[key]}={value}" if sep and key in SHORTHANDS else argument)
    return expanded


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("example: agentrl sft env=frozenlake model=tiny demos=128 sft.epochs=5")
        return 0
    from agentrl.trainer.sft import sft

    console = Console(stderr=True)
    try:
        config, resolved_yaml = load_config(expand_shorthands(argv), config_name="sft")
        run = sft(config, resolved_yaml)
    except (ConfigError, UnknownEnvError, EnvLoadError, EnvParamsError) as error:
        console.print(f"[red]agentrl sft:[/red] {error}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: the last checkpoint is kept; continue with trainer.resume=true")
        return 130
    console.print(f"run saved in {run.run_dir.path}; fine-tuned model in {run.run_dir.path / 'final'}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
