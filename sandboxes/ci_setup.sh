#!/usr/bin/env bash
# Prepares a machine (CI, as root) for the sandbox tests: bubblewrap for the local backend, a docker
# engine and the locally built sandbox image for the docker backend. Nothing is pulled from a
# registry: the image is a Debian rootfs made by debootstrap and loaded with `docker import`.
# Idempotent and cheap on a second run (the image is kept by the engine). Never fails the build:
# without an engine the docker tests skip and say why.
set -uo pipefail

IMAGE="${AGENTRL_SANDBOX_IMAGE:-agentrl-sandbox:bookworm}"
MIRROR="${AGENTRL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "$(id -u)" != 0 ]; then
    echo "sandboxes/ci_setup.sh: not root, skipping (docker tests will skip; install bubblewrap yourself)"
    exit 0
fi

missing=""
command -v bwrap >/dev/null || missing="$missing bubblewrap"
command -v dockerd >/dev/null || missing="$missing docker.io"
command -v debootstrap >/dev/null || missing="$missing debootstrap"
command -v docker-compose >/dev/null || missing="$missing docker-compose"  # tests/test_compose.py
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
        || echo "sandboxes/ci_setup.sh: could not install$missing"
fi

if command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
    nohup dockerd >/tmp/agentrl-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
if ! docker info >/dev/null 2>&1; then
    echo "sandboxes/ci_setup.sh: no docker engine (see /tmp/agentrl-dockerd.log); docker tests will skip"
    exit 0
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    rootfs="$(mktemp -d /tmp/agentrl-rootfs.XXXXXX)"
    if debootstrap --variant=minbase --include=python3-minimal bookworm "$rootfs" "$MIRROR" >/tmp/agentrl-debootstrap.log 2>&1; then
        tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null \
            && echo "sandboxes/ci_setup.sh: built $IMAGE"
    else
        echo "sandboxes/ci_setup.sh: debootstrap failed (see /tmp/agentrl-debootstrap.log); docker tests will skip"
    fi
    rm -rf "$rootfs"
fi
exit 0
