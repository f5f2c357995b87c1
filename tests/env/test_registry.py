"""Environment discovery: entry points, in-code registration, and errors a person can act on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from agentrl.environments.frozenlake import FrozenLake

from agentrl.env import (
    EnvLoadError,
    EnvParamsError,
    EnvSpec,
    UnknownEnvError,
    env_names,
    list_envs,
    make_env_spec,
    register,
    unregister,
)


@pytest.fixture
def registered():
    """Names registered by a test, removed afterwards so tests don't leak into each other."""
    names: list[str] = []

    def add(name: str, factory) -> None:
        names.append(name)
        register(name, factory)

    yield add
    for name in names:
        unregister(name)


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Installed metadata for two plugins that cannot load, found the way pip-installed ones are.

    `ghost` points at a module that does not exist; `exploding` at one that raises on import.
    """
    dist_info = tmp_path / "agentrl_broken_plugins-0.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: agentrl-broken-plugins\nVersion: 0.0.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[agentrl.environments]\n"
        "ghost = agentrl_ghost_plugin_nowhere:Spec\n"
        "exploding = agentrl_exploding_plugin:Spec\n"
    )
    (tmp_path / "agentrl_exploding_plugin.py").write_text('raise RuntimeError("plugin exploded on import")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_frozenlake_is_found_through_its_entry_point() -> None:
    assert "frozenlake" in env_names()
    (info,) = [info for info in list_envs() if info.name == "frozenlake"]
    assert info.ok and info.source == "agentrl.environments.frozenlake:FrozenLake" and info.factory is FrozenLake
    spec = make_env_spec("frozenlake", {"size": 8, "num_maps": 2})
    assert isinstance(spec, EnvSpec) and spec.size == 8 and spec.num_tasks("train") == 2


def test_register_in_code(registered) -> None:
    registered("tiny-lake", FrozenLake)
    assert "tiny-lake" in env_names()
    (info,) = [info for info in list_envs() if info.name == "tiny-lake"]
    assert info.ok and info.source == "in-code"
    spec = make_env_spec("tiny-lake", {"size": 3})
    assert len(spec.task("train", 0).payload["map"]) == 3


def test_in_code_registration_shadows_an_entry_point(registered) -> None:
    registered("frozenlake", lambda **params: FrozenLake(size=5, **params))
    assert make_env_spec("frozenlake", {}).size == 5


def test_unknown_name_lists_installed_names() -> None:
    with pytest.raises(UnknownEnvError) as caught:
        make_env_spec("frozenlak", {})
    message = str(caught.value)
    assert message.startswith("unknown env 'frozenlak' (did you mean 'frozenlake'?); valid: ")
    assert "frozenlake" in message.split("valid: ")[1]
    assert "entry-point group 'agentrl.environments'" in message


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(
        EnvParamsError, match=r"unknown parameter 'sise' \(did you mean 'size'\?\) for env 'frozenlake'; valid: .*size"
    ):
        make_env_spec("frozenlake", {"sise": 3})


def test_bad_parameter_value_names_env_and_parameter() -> None:
    with pytest.raises(
        EnvParamsError, match=r"env 'frozenlake' rejected params \{'size': 1\}.*size must be at least 2"
    ):
        make_env_spec("frozenlake", {"size": 1})


def test_a_factory_that_builds_no_env_spec_is_refused(registered) -> None:
    registered("not-a-spec", dict)
    with pytest.raises(TypeError, match="env 'not-a-spec'.*not an EnvSpec.*missing: system_prompt"):
        make_env_spec("not-a-spec", {})


def test_broken_plugins_are_reported_and_others_still_load(broken_plugins: Path) -> None:
    infos = {info.name: info for info in list_envs()}
    assert infos["ghost"].error == "ModuleNotFoundError: No module named 'agentrl_ghost_plugin_nowhere'"
    assert infos["ghost"].source == "agentrl_ghost_plugin_nowhere:Spec" and not infos["ghost"].ok
    assert infos["exploding"].error == "RuntimeError: plugin exploded on import"
    assert infos["frozenlake"].ok
    assert make_env_spec("frozenlake", {}).max_turns == 12

    with pytest.raises(EnvLoadError) as caught:
        make_env_spec("ghost", {})
    assert str(caught.value) == (
        "env 'ghost' could not be loaded from entry point agentrl_ghost_plugin_nowhere:Spec: "
        "ModuleNotFoundError: No module named 'agentrl_ghost_plugin_nowhere'"
    )


def test_agentrl_envs_shows_broken_plugins_with_their_error(broken_plugins: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(broken_plugins), os.environ.get("PYTHONPATH", "")]),
    }
    env["HF_HUB_OFFLINE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-m", "agentrl.cli.main", "envs"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {
        line.split("│")[1].strip(): line for line in completed.stdout.splitlines() if line.startswith("│")
    }
    assert "ok" in rows["frozenlake"] and "12" in rows["frozenlake"] and "yes (10)" in rows["frozenlake"]
    assert "error: ModuleNotFoundError: No module named" in rows["ghost"]
    assert "error: RuntimeError: plugin exploded on import" in rows["exploding"]
