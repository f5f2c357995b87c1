"""`agentrl <command> ...`: the single entry point of the command line."""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "train": "agentrl.cli.train",
    "sft": "agentrl.cli.sft",
    "envs": "agentrl.cli.envs",
    "algos": "agentrl.cli.algos",
    "new-env": "agentrl.cli.new_env",
    "replay": "agentrl.cli.replay",
    "eval": "agentrl.cli.eval",
    "plot": "agentrl.cli.plot",
    "convert": "agentrl.cli.convert",
}


def main(argv: list[str] | None = None) -> int:
    # Nothing may reach a model hub at run time; without this, hub clients retry the network for ~23 s.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: agentrl {" + ",".join(COMMANDS) + "} [args...]")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"agentrl: unknown command {command!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(COMMANDS[command])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
