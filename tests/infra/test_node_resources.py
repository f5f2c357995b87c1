"""Shared read-only resources: loaded once per node under infra=ray, by whichever worker asks first.

Real Ray (a private 4-CPU cluster for the module), real env-worker actors building the search_qa spec,
the real BM25 corpus. The node's holder counts its loads, so "once per node" is observed, not assumed.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest
from agentrl.environments.search_qa.data import HOTPOTQA_CORPUS
from agentrl.environments.search_qa.search_qa import indexed_corpus

from agentrl.infra import InfraConfig, hosted_env_spec, releasing
from agentrl.infra.node_resources import HOLDER_PREFIX, serve_from_node_holders, shared_per_node

ray = pytest.importorskip("ray", reason="infra=ray tests need Ray: pip install 'agentrl[ray]'")


def node_holder() -> object:
    return ray.get_actor(HOLDER_PREFIX + ray.get_runtime_context().get_node_id())


@ray.remote
def search_in_a_worker(key: str, path: Path, query: str) -> tuple[int, bool, list[tuple[int, float]]]:
    """What a worker process sees of the node-shared corpus: its pid, whether the index's postings are
    a private (writeable) copy, and a search."""
    serve_from_node_holders()
    corpus = shared_per_node(key, partial(indexed_corpus, path))
    return os.getpid(), corpus.index._documents.flags.writeable, corpus.index.search(query, 3)


@ray.remote
def load_in_a_worker(key: str, marker: Path) -> str:
    def fail_unless_marked() -> str:  # nested, so it travels by value: the holder cannot import tests
        if not marker.exists():
            marker.touch()
            raise OSError("the data is not there yet")
        return "loaded"

    serve_from_node_holders()
    return shared_per_node(key, fail_unless_marked)


def test_workers_on_a_node_share_one_load_mapped_not_copied(ray_cluster: None) -> None:
    query = "Which magazine was started first, Arthur's Magazine or First for Women?"
    results = ray.get([search_in_a_worker.remote("corpus", HOTPOTQA_CORPUS, query) for _ in range(6)])

    assert ray.get(node_holder().load_count.remote()) == 1  # six asks, one load on this node
    local = indexed_corpus(HOTPOTQA_CORPUS)
    for _, writeable, hits in results:
        assert not writeable  # postings read from the node's shared memory, not copied per worker
        assert hits == local.index.search(query, 3)


def test_a_failed_load_reaches_its_caller_and_the_next_caller_loads_again(ray_cluster: None, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(ray.exceptions.RayTaskError, match="the data is not there yet"):
        ray.get(load_in_a_worker.remote("flaky", marker))
    assert ray.get(load_in_a_worker.remote("flaky", marker)) == "loaded"


def test_outside_ray_workers_it_is_a_plain_load() -> None:
    loads: list[int] = []
    assert shared_per_node("anything", lambda: loads.append(1) or "loaded") == "loaded"
    assert shared_per_node("anything", lambda: loads.append(1) or "loaded") == "loaded"
    assert loads == [1, 1]  # no holder, no cache: each spec in this process loads its own


def test_search_qa_env_workers_build_the_index_once_per_node_and_the_run_stops_the_holder(ray_cluster: None) -> None:
    for name in ray.util.list_named_actors():  # the module's earlier holder, if any, is not this test's
        if name.startswith(HOLDER_PREFIX):
            ray.kill(ray.get_actor(name))
    with releasing(hosted_env_spec(InfraConfig(name="ray", env_workers=3), "search_qa", {})) as spec:
        assert len(spec.describe()) == 3  # every worker has built its spec
        assert ray.get(node_holder().load_count.remote()) == 1
    with pytest.raises(ValueError):  # stopped with the workers
        node_holder()
