"""ALFWorld on the real shipped games, played by the real TextWorld PDDL engine in real game worker
processes (a few seconds per game load)."""

from __future__ import annotations

import asyncio
import os
import signal
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agentrl.environments.alfworld import ALFWorld, ALFWorldEpisode, normalise_command
from agentrl.environments.alfworld import data as alfworld_data
from agentrl.environments.alfworld.data import ensure_games, list_games
from agentrl.environments.alfworld.demos import walkthrough
from agentrl.environments.alfworld.pool import GameWorkerDied

from agentrl.types import StepResult

# Three games with short walkthroughs: look (seen), look (unseen), clean (seen).
GAMES = [("valid_seen", 0), ("valid_unseen", 3), ("valid_seen", 60)]


@pytest.fixture(scope="module")
def spec() -> Iterator[ALFWorld]:
    spec = ALFWorld(prompt="gigpo", game_workers=2)
    yield spec
    spec.shutdown()


@pytest.fixture
def make_spec() -> Iterator[Callable[..., ALFWorld]]:
    """ALFWorld specs whose game workers are shut down when the test ends, however it ends."""
    made: list[ALFWorld] = []

    def make(**params: Any) -> ALFWorld:
        made.append(ALFWorld(**params))
        return made[-1]

    yield make
    for spec in made:
        spec.shutdown()


async def walk(env: ALFWorldEpisode) -> list[StepResult]:
    """Play the reset game's walkthrough (tagged for the gigpo prompt); the results of its steps."""
    tagged = "<think>t</think><action>{}</action>" if env.spec.prompt == "gigpo" else "{}"
    return [await env.step(tagged.format(command)) for command in env.walkthrough]


def play(spec: ALFWorld, task_split: str, index: int, replies: list[str] | None = None) -> list[StepResult]:
    """Reset, then send `replies` (default: the game's walkthrough); the results, the reset's first."""

    async def run() -> list[StepResult]:
        env = spec.make_env()
        results = [await env.reset(spec.task(task_split, index))]
        if replies is None:
            results += await walk(env)
        else:
            results += [await env.step(reply) for reply in replies]
        await env.close()
        return results

    return asyncio.run(run())


@pytest.mark.parametrize(("split", "index"), GAMES)
def test_walkthrough_wins(spec: ALFWorld, split: str, index: int) -> None:
    results = play(spec, split, index)
    last = results[-1]
    assert last.done and last.reward == 1.0
    assert last.success is True and last.score == 1.0
    assert last.task_type == spec.task(split, index).payload["task_type"]
    assert all(not r.done for r in results[:-1])


def test_splits_and_task_types(spec: ALFWorld) -> None:
    assert (spec.num_tasks("train"), spec.num_tasks("valid_seen"), spec.num_tasks("valid_unseen")) == (
        3553,
        140,
        134,
    )
    assert spec.num_tasks("eval") == 134  # eval_split defaults to valid_unseen
    types = {spec.task("valid_seen", i).payload["task_type"] for i in range(spec.num_tasks("valid_seen"))}
    assert types == {"pick", "look", "clean", "heat", "cool", "pick_two"}
    with pytest.raises(ValueError, match="unknown split 'test'"):
        spec.task("test", 0)
    with pytest.raises(ValueError, match="out of range"):
        spec.task("valid_seen", 140)


def test_invalid_and_non_admissible_actions_are_format_failures(spec: ALFWorld) -> None:
    results = play(
        spec, "valid_seen", 0, ["go to desk 1", "<action>fly away</action>", "<action>Go to  Desk 1</action>"]
    )
    untagged, not_admissible, normalised = results[1:]
    for failed in (untagged, not_admissible):
        assert failed.failure == "format" and failed.reward == -0.1
        assert failed.state_key == results[0].state_key  # nothing happened
    assert "'fly away' is not admissible" in not_admissible.observation
    assert (normalised.action, normalised.task_type, normalised.info) == ("go to desk 1", "look", {})
    assert normalised.state_key != results[0].state_key


def test_state_key_follows_true_state_not_text(spec: ALFWorld) -> None:
    replies = ["look", "inventory", "go to desk 1", "examine desk 1", "go to bed 1", "go to desk 1"]
    results = play(spec, "valid_seen", 0, [f"<action>{r}</action>" for r in replies])
    start, look, inventory, desk, examined, bed, desk_again = (r.state_key for r in results)
    assert start == look == inventory  # looking changes the text, not the world
    assert desk == examined == desk_again != start
    assert bed not in (start, desk)
    assert results[1].observation != results[0].observation


def test_history_prompt_shows_task_history_and_admissible_actions(spec: ALFWorld) -> None:
    results = play(
        spec, "valid_seen", 0, ["<action>go to desk 1</action>", "<action>use desklamp 1</action>"]
    )
    prompt = results[-1].observation
    assert prompt.startswith("Your task is to: look at alarmclock under the desklamp.")
    assert "Action 1: 'go to desk 1'" in prompt and "Action 2: 'use desklamp 1'" in prompt
    assert "'take alarmclock 2 from desk 1'" in prompt and "<action> </action>" in prompt


def test_turn_limit_truncates_as_a_loss(make_spec: Callable[..., ALFWorld]) -> None:
    spec = make_spec(prompt="plain", max_turns=2, game_workers=1)
    results = play(spec, "valid_seen", 0, ["look", "inventory"])
    assert not results[1].truncated
    assert results[2].truncated and not results[2].done
    assert results[2].success is False and results[2].score == 0.0
    assert results[0].observation.startswith("Your task is to: look at alarmclock")


def test_vocabulary_spells_every_admissible_command(make_spec: Callable[..., ALFWorld]) -> None:
    spec = make_spec(prompt="plain", game_workers=1)
    vocabulary = set(spec.vocabulary())
    results = play(spec, "valid_seen", 60, None)  # plain prompt: the walkthrough as bare commands
    assert results[-1].success is True
    commands = [line for r in results for line in r.observation.split("Admissible actions: ")[1].split(" | ")]
    assert commands and all(set(c.split()) <= vocabulary for c in commands)


def test_extraction_from_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: ALFWorld) -> None:
    """A one-game archive in the shipped layout extracts into place, and a second call reuses it."""
    game = spec.game_path(spec.task("valid_seen", 0).payload)
    archive = tmp_path / "one.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(game.parent, arcname=f"json_2.1.1/valid_seen/{game.parent.parent.name}/{game.parent.name}")
    monkeypatch.setattr(alfworld_data, "ARCHIVE", archive)
    games = ensure_games(tmp_path / "cache")
    assert [g.task_type for g in list_games(games, "valid_seen")] == ["look"]
    archive.unlink()
    assert ensure_games(tmp_path / "cache") == games  # no second extraction
    with pytest.raises(FileNotFoundError, match="ALFWorld archive is missing"):
        ensure_games(tmp_path / "elsewhere")


def test_bad_parameters_are_explained() -> None:
    with pytest.raises(ValueError, match="unknown eval_split 'test'"):
        ALFWorld(eval_split="test")
    with pytest.raises(ValueError, match="unknown prompt 'fancy'"):
        ALFWorld(prompt="fancy")
    with pytest.raises(ValueError, match="game_workers must be >= 1"):
        ALFWorld(game_workers=0)


def test_episodes_spread_over_worker_processes_and_reuse_engines(make_spec: Callable[..., ALFWorld]) -> None:
    spec = make_spec(prompt="gigpo", game_workers=2)

    async def run() -> None:
        first, second, again = spec.make_env(), spec.make_env(), spec.make_env()
        await asyncio.gather(
            first.reset(spec.task("valid_seen", 0)), second.reset(spec.task("valid_unseen", 3))
        )
        assert first.lease is not None and second.lease is not None
        pids = {first.lease.worker.pid, second.lease.worker.pid}
        assert len(pids) == 2 and os.getpid() not in pids  # two processes, neither this one
        both = await asyncio.gather(walk(first), walk(second))
        assert all(results[-1].done and results[-1].success for results in both)
        engine = first.lease
        await first.close()
        # The first game again: the now idle worker, whose engine still holds it, only resets it.
        await again.reset(spec.task("valid_seen", 0))
        assert again.lease is not None
        assert (again.lease.worker, again.lease.engine_id) == (engine.worker, engine.engine_id)
        assert (await walk(again))[-1].success is True
        await asyncio.gather(second.close(), again.close())

    asyncio.run(run())


def test_a_killed_worker_fails_only_its_episodes_and_is_replaced(make_spec: Callable[..., ALFWorld]) -> None:
    spec = make_spec(prompt="gigpo", game_workers=2)

    async def run() -> list[int]:
        doomed, survivor, later = spec.make_env(), spec.make_env(), spec.make_env()
        await asyncio.gather(
            doomed.reset(spec.task("valid_seen", 0)), survivor.reset(spec.task("valid_unseen", 3))
        )
        assert doomed.lease is not None and survivor.lease is not None
        killed, other = doomed.lease.worker.pid, survivor.lease.worker.pid
        os.kill(killed, signal.SIGKILL)
        with pytest.raises(
            GameWorkerDied, match=f"pid {killed} was killed by SIGKILL during step; its episodes"
        ):
            await walk(doomed)
        await doomed.close()
        assert (await walk(survivor))[-1].success is True  # the other worker never noticed
        # The pool replaces the dead worker for the next episode (the survivor's worker is busier).
        await later.reset(spec.task("valid_seen", 0))
        assert later.lease is not None
        fresh = later.lease.worker.pid
        assert fresh not in (killed, other)
        assert (await walk(later))[-1].success is True
        # An episode still open when the pool shuts down fails with a clear error, not a hang.
        open_at_shutdown = spec.make_env()
        await open_at_shutdown.reset(spec.task("valid_seen", 0))
        spec.shutdown()
        with pytest.raises(GameWorkerDied, match="was stopped: the game pool shut down"):
            await walk(open_at_shutdown)
        for env in (survivor, later, open_at_shutdown):
            await env.close()
        return [killed, other, fresh]

    pids = asyncio.run(run())
    assert spec.pool.workers == ()
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # exited and reaped: nothing leaked


def test_an_engine_error_fails_the_episode_and_the_worker_goes_on(make_spec: Callable[..., ALFWorld]) -> None:
    spec = make_spec(prompt="plain", game_workers=1)

    async def run() -> None:
        with pytest.raises(RuntimeError, match=r"alfworld game worker pid \d+, start: \w+Error"):
            await spec.pool.start(Path("/no/such/game.tw-pddl"))
        (worker,) = spec.pool.workers
        env = spec.make_env()
        await env.reset(spec.task("valid_seen", 0))
        assert env.lease is not None and env.lease.worker is worker and worker.alive
        await env.close()

    asyncio.run(run())


@pytest.mark.parametrize(("split", "index"), GAMES)
def test_demonstration_is_the_walkthrough_and_wins(spec: ALFWorld, split: str, index: int) -> None:
    task = spec.task(split, index)
    replies = spec.demonstration(task)
    results = play(spec, split, index, replies)
    assert results[-1].done and results[-1].success is True
    assert all(r.failure is None for r in results) and len(results) == len(replies) + 1
    assert [r.action for r in results[1:]] == [normalise_command(c) for c in walkthrough(spec.game_path(task.payload))]
