"""`agentrl train env=<name> algo=<name> [model=...] [key=value ...]` (hydra overrides).

With `learner.fsdp=true`, launch N ranks: `torchrun --nproc-per-node=N -m agentrl.cli.main train ...`."""

from __future__ import annotations

import sys

from rich.console import Console

from agentrl.env.registry import EnvLoadError, EnvParamsError, UnknownEnvError
from agentrl.errors import ConfigError
from agentrl.policy.packaged import PackagedModelMissing
from agentrl.trainer.config import load_config


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("example: agentrl train env=frozenlake algo=gigpo model=tiny trainer.steps=50")
        return 0
    from agentrl.trainer.distributed_loop import TrainerFailed, train_in_group
    from agentrl.trainer.loop import train

    console = Console(stderr=True, soft_wrap=True)  # an error line must survive grep, not fold at 80
    try:
        config, resolved_yaml = load_config(argv)
        run = train_in_group(config, resolved_yaml, train) if config.learner.fsdp else train(config, resolved_yaml)
    except (ConfigError, UnknownEnvError, EnvLoadError, EnvParamsError, PackagedModelMissing) as error:
        console.print(f"[red]agentrl train:[/red] {error}", highlight=False)
        return 2
    except TrainerFailed as error:
        console.print(f"[red]agentrl train:[/red] {error}", highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted: the last checkpoint is kept; continue with trainer.resume=true")
        return 130
    if run is not None:  # None: a learner follower (rank > 0), which writes nothing
        console.print(f"run saved in {run.run_dir.path}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
