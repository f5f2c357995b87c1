"""`agentrl new-env` writes a plugin that installs, is listed by `agentrl envs`, passes its own tests
and trains two GRPO steps with the tiny model, all through the entry point a user relies on.

The installed checks run in fresh interpreters: an editable install takes effect through a `.pth`
file that only a new process reads. The plugin is uninstalled afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrl.cli.new_env import FILES, main, scaffold, template_values
from tests.fixtures.short_runs import short_run

NAME = "scaffold_probe"


def fresh_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, check=False, capture_output=True, text=True, env=fresh_env(), cwd=cwd, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if run([sys.executable, "-m", "pip", "--version"], Path.cwd()).returncode != 0:
        pytest.skip(f"pip is not available in {sys.executable}; cannot install the scaffolded plugin")
    directory = tmp_path_factory.mktemp("plugin") / "agentrl-scaffold-probe"
    scaffold(NAME, directory)
    pip = [sys.executable, "-m", "pip"]
    installed = run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(directory)], directory
    )
    assert installed.returncode == 0, f"pip install failed:\n{installed.stdout}\n{installed.stderr}"
    try:
        yield directory
    finally:
        run([*pip, "uninstall", "-y", template_values(NAME)["distribution"]], directory)


def test_the_scaffold_is_listed_passes_its_tests_and_trains(installed_plugin: Path, tmp_path: Path) -> None:
    listed = run([sys.executable, "-m", "agentrl.cli.main", "envs"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.startswith("│")}
    assert NAME in rows, listed.stdout
    assert "agentrl_scaffold_probe:ScaffoldProbeSpec" in rows[NAME] and " ok " in rows[NAME]

    own_tests = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], installed_plugin
    )
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    assert "5 passed" in own_tests.stdout

    overrides = short_run(
        tmp_path / "runs", f"env={NAME}", "algo=grpo", "rollout.group_size=2", "model.max_new_tokens=8"
    )
    trained = run([sys.executable, "-m", "agentrl.cli.main", "train", *overrides], tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    lines = (tmp_path / "runs" / f"{NAME}-grpo" / "metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["episodes"] == 4 and m["trained_tokens"] > 0 for m in metrics)


def test_the_scaffold_has_every_file(tmp_path: Path) -> None:
    written = scaffold("my_env", tmp_path / "out")
    assert len(written) == len(FILES)
    pyproject = (tmp_path / "out" / "pyproject.toml").read_text()
    assert '[project.entry-points."agentrl.environments"]\nmy_env = "agentrl_my_env:MyEnvSpec"' in pyproject
    assert (tmp_path / "out" / "agentrl_my_env" / "tools.py").exists()


def test_bad_names_and_occupied_directories_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["My-Env", "--dir", str(tmp_path / "a")]) == 2
    assert "invalid environment name 'My-Env'" in capsys.readouterr().err
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    assert main(["fresh_name", "--dir", str(tmp_path / "b")]) == 2
    assert "already exists and is not an empty directory" in capsys.readouterr().err
    assert main(["frozenlake", "--dir", str(tmp_path / "c")]) == 2
    assert "'frozenlake' is already installed" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
