"""bench/anchor_recurrence.py on real frozenlake and webshop episodes: its experts win, its random
policy only takes valid actions, and its summary agrees with the trainer's histogram."""

from __future__ import annotations

import asyncio

import pytest

from bench.anchor_recurrence import group_of_turn, measure, spans_episodes, summary, webshop_pages


@pytest.mark.parametrize("env_name", ["frozenlake", "webshop"])
def test_the_expert_wins_and_its_identical_episodes_share_every_state(env_name: str) -> None:
    result = asyncio.run(measure(env_name, 1.0, groups=3, group_size=2, seed=0, query="words"))
    row = summary(result, anchor="state", history_k=2)
    assert row["success"] == 1.0
    # A deterministic expert plays the same episode twice per task: every anchor group has size 2.
    assert row["non_singleton"] == 1.0 and row["mean_size_per_turn"] == 2.0 and row["2-4"] == 1.0
    assert row["cross_episode"] == 1.0


@pytest.mark.parametrize("env_name", ["frozenlake", "webshop"])
def test_random_valid_play_groups_every_start_state(env_name: str) -> None:
    # `play_episode` raises on an invalid action, so finishing proves the policy only took valid ones.
    result = asyncio.run(measure(env_name, 0.0, groups=2, group_size=4, seed=0, query="words"))
    row = summary(result, anchor="state", history_k=2)
    assert sum(row[label] for label in ("1", "2-4", "5-8", "9-16", "17+")) == pytest.approx(1.0)
    assert all(len(t.turns) >= 1 for t in result.trajectories)
    starts = {t.group_id: t.turns[0].state_key for t in result.trajectories}
    assert len(set(starts.values())) == 2  # keys carry the task: groups never share a state
    assert 0.0 <= row["non_singleton_away"] <= row["non_singleton"] + row["away_from_start"]
    assert row["cross_episode"] <= row["non_singleton"]
    assert row["mean_size_per_group"] <= row["mean_size_per_turn"]


def test_webshop_page_breakdown_covers_every_turn_and_the_start_page_recurs() -> None:
    result = asyncio.run(measure("webshop", 0.0, groups=2, group_size=4, seed=0, query="instruction"))
    pages = webshop_pages(result, anchor="state", history_k=2)
    assert sum(share for share, _, _ in pages.values()) == pytest.approx(1.0)
    assert pages["search"][1:] == (1.0, 1.0)  # every episode starts on the search page of its task
    # Searching the same instruction lands every episode of a task on the same first results page.
    groups = group_of_turn(result.trajectories, anchor="state", history_k=2)
    first_results_pages = [
        group
        for (i, t), group in groups.items()
        if (result.trajectories[i].turns[t].state_key or "").split("|")[1:4:2] == ["results", "1"]
    ]
    assert first_results_pages and all(spans_episodes(group) for group in first_results_pages)
