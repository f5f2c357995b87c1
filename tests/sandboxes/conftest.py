"""Sandbox tests put their sandboxes in a fresh base directory each; pytest's own tmp_path cannot
be used as one when running as root, because its parents are private (0700) and sandboxes run as
uids of their own that must walk into their directory."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def base_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="agentrl-sandbox-test-"))
    path.chmod(0o755)
    yield path
    leftovers = sorted(p.name for p in path.iterdir())
    shutil.rmtree(path)
    assert not leftovers, f"sandbox directories not removed: {leftovers}"
