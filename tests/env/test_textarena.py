"""The textarena adapter: real textarena games played through agentrl's `Env` protocol."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

pytest.importorskip("textarena")

from agentrl.environments.textarena import TextArena
from agentrl.environments.textarena.games import GameUnavailable
from agentrl.environments.textarena.probe import probe_game

from agentrl.trainer.config import load_config
from agentrl.trainer.loop import train
from agentrl.types import StepResult
from tests.fixtures.short_runs import short_run, trained_step_metrics

HANOI_3 = ["[A C]", "[A B]", "[C B]", "[A C]", "[B A]", "[B C]", "[A C]"]


async def play(spec: TextArena, moves: list[str], index: int = 0) -> list[StepResult]:
    env = spec.make_env()
    try:
        results = [await env.reset(spec.task("train", index))]
        for move in moves:
            results.append(await env.step(move))
            if results[-1].done:
                break
        return results
    finally:
        await env.close()


def test_the_known_solution_solves_tower_of_hanoi() -> None:
    results = asyncio.run(play(TextArena(game="TowerOfHanoi-v0"), HANOI_3))
    assert "Tower of Hanoi" in results[0].observation
    assert [r.done for r in results] == [False] * 7 + [True]
    assert results[-1].reward == 1.0
    assert results[-1].success is True
    assert all(r.failure is None for r in results)
    keys = [r.state_key for r in results]
    assert all(key is not None and key.startswith("TowerOfHanoi-v0-train-0:") for key in keys)
    assert len(set(keys)) == len(keys)  # every move changes the towers


def test_an_invalid_move_is_a_format_failure_and_the_game_goes_on() -> None:
    spec = TextArena(game="TowerOfHanoi-v0", invalid_action_penalty=0.25)
    results = asyncio.run(play(spec, ["move the disk", "[B C]", *HANOI_3]))
    start, garbage, illegal = results[:3]
    for result in (garbage, illegal):
        assert result.failure == "format"
        assert result.reward == -0.25
        assert not result.done
        assert result.state_key == start.state_key  # nothing moved
    assert "did not respond with valid" in garbage.info["error"]
    assert "empty tower" in illegal.observation
    assert results[-1].success is True  # more invalid moves than textarena allows: still playing


def test_two_player_games_face_a_deterministic_opponent() -> None:
    spec = TextArena(game="TicTacToe-v0")
    first = asyncio.run(play(spec, ["[4]", "[8]", "[6]", "[2]", "[5]", "[3]", "[7]"]))
    second = asyncio.run(play(spec, ["[4]", "[8]", "[6]", "[2]", "[5]", "[3]", "[7]"]))
    assert [r.observation for r in first] == [r.observation for r in second]
    assert "[Player 1]" in first[1].observation  # the opponent answered the agent's move
    assert first[-1].done
    assert first[-1].success == (first[-1].reward >= 1.0)


def test_each_episode_keeps_its_own_randomness() -> None:
    """2048 spawns tiles from `random`: a seeded episode replays exactly, whatever runs beside it."""
    spec = TextArena(game="2048-v0")
    moves = ["[w]", "[a]", "[s]", "[d]"] * 3

    async def interleaved() -> tuple[list[str], list[str]]:
        one, other = spec.make_env(), spec.make_env()
        seen_one = [(await one.reset(spec.task("train", 0))).observation]
        seen_other = [(await other.reset(spec.task("train", 1))).observation]
        for move in moves:
            seen_one.append((await one.step(move)).observation)
            seen_other.append((await other.step(move)).observation)
        return seen_one, seen_other

    alone = [r.observation for r in asyncio.run(play(spec, moves, index=0))]
    together, _ = asyncio.run(interleaved())
    assert together == alone


def test_unknown_and_unplayable_games_say_why() -> None:
    with pytest.raises(ValueError, match="unknown textarena game 'Sokobon-v0'.*Sokoban-v0"):
        TextArena(game="Sokobon-v0")
    with pytest.raises(GameUnavailable, match="neither a one- nor a two-player game"):
        TextArena(game="ThreePlayerTicTacToe-v0")
    report = probe_game("Sokoban-v0")
    assert report.usable and report.players == 1 and report.step_ms is not None


def test_tiny_model_trains_two_steps_on_a_textarena_game(tmp_path: Path) -> None:
    config, resolved = load_config(
        short_run(
            tmp_path,
            "env=textarena",
            "env.params.game=TowerOfHanoi-v0",
            "env.params.max_turns=3",
            "algo=grpo",
            "rollout.group_size=2",
            "model.max_new_tokens=6",
        )
    )
    run = train(config, resolved)
    metrics = trained_step_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(math.isfinite(m["loss"]) for m in metrics if m["trained_tokens"] > 0)
