"""`python -m agentrl.sandboxes.reap`: remove what crashed runs left (local directories and processes,
docker containers). Safe at any time: sandboxes whose owner process is alive are kept."""

from __future__ import annotations

import sys

from agentrl.sandboxes.local import reap_local
from agentrl.sandboxes.protocol import SandboxError


def main() -> int:
    local = reap_local()
    print(f"local: removed {len(local)} sandbox director{'y' if len(local) == 1 else 'ies'}")
    try:
        from agentrl.sandboxes.docker_backend import reap_docker

        containers = reap_docker()
    except SandboxError as error:
        print(f"docker: skipped ({error})")
    else:
        print(f"docker: removed {len(containers)} container(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
