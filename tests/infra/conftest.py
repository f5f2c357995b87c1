"""The private Ray cluster of the infra=ray tests: 4 logical CPUs, no dashboard, an 80 MB object store,
started once per test module and stopped at its end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray", reason="infra=ray tests need Ray: pip install 'agentrl[ray]'")
    ray.init(
        num_cpus=4, include_dashboard=False, object_store_memory=80 * 1024 * 1024,
        configure_logging=False, log_to_driver=False,
    )
    yield
    ray.shutdown()
