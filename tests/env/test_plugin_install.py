"""The example plugin installed the way a user installs one, then found by `agentrl envs` and the registry.

Both checks run in fresh interpreters: an editable install takes effect through a `.pth` file, which
only a new process reads, and that is also what a user does (install, then run agentrl).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "calculator_env"

EPISODE = textwrap.dedent(
    """
    import asyncio, json
    from agentrl.env import make_env_spec

    async def main():
        spec = make_env_spec("calculator", {})
        task = spec.task("train", 0)
        env = spec.make_env()
        await env.reset(task)
        tool = await env.step("calculate: " + task.payload["expression"])
        final = await env.step("answer: " + tool.observation)
        await env.close()
        call = tool.tool_calls[0]
        print(json.dumps({"module": type(spec).__module__, "call": [call.name, call.ok, call.result],
                          "reward": final.reward, "done": final.done, "success": final.success}))

    asyncio.run(main())
    """
)


def fresh_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}


@pytest.fixture(scope="module")
def installed_plugin() -> None:
    if (
        subprocess.run(
            [sys.executable, "-m", "pip", "--version"], check=False, capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip(f"pip is not available in {sys.executable}; cannot install the example plugin")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-e",
            str(PLUGIN),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"pip install failed:\n{completed.stdout}\n{completed.stderr}"


def test_agentrl_envs_lists_frozenlake_and_the_plugin(installed_plugin: None, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "agentrl.cli.main", "envs"],
        check=False,
        capture_output=True,
        text=True,
        env=fresh_env(),
        cwd=tmp_path,  # not the repository: the plugin must come from the installation
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    rows = {
        line.split("│")[1].strip(): line for line in completed.stdout.splitlines() if line.startswith("│")
    }
    assert "frozenlake" in rows and "calculator" in rows, completed.stdout
    assert "agentrl_calculator:CalculatorEnvSpec" in rows["calculator"]
    assert " ok " in rows["calculator"] and " ok " in rows["frozenlake"]


def test_a_calculator_episode_runs_through_the_registry(installed_plugin: None, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", EPISODE],
        check=False,
        capture_output=True,
        text=True,
        env=fresh_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["module"] == "agentrl_calculator.env"
    assert outcome["call"][:2] == ["calculate", True]
    assert outcome == {**outcome, "reward": 1.0, "done": True, "success": True}
