"""`load_config`: the mistakes a person makes on the `agentrl train` command line, and what they read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from agentrl.environments.frozenlake import FrozenLake

from agentrl.credit import ADVANTAGE_ESTIMATORS
from agentrl.env import env_names, register, unregister
from agentrl.errors import ConfigError
from agentrl.trainer.config import TrainConfig, load_config
from agentrl.types import Task

PLUGIN_ENV = "config-test-plugin"


class PluginSpec:
    """An environment registered in code, with no yaml file under configs/env/."""

    system_prompt = ""
    max_turns = 3

    def __init__(self, difficulty: int = 1) -> None:
        self.difficulty = difficulty

    def task(self, split: str, index: int) -> Task:
        return Task(task_id=f"{split}-{index}", seed=index)

    def num_tasks(self, split: str) -> int | None:
        return 1

    def make_env(self) -> object:
        raise NotImplementedError("composition never starts an episode")

    def vocabulary(self) -> Sequence[str] | None:
        return None


@pytest.fixture
def plugin_env() -> Iterator[str]:
    register(PLUGIN_ENV, PluginSpec)
    yield PLUGIN_ENV
    unregister(PLUGIN_ENV)


def config_error(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(overrides)
    return str(raised.value)


def test_the_defaults_compose_into_the_typed_config() -> None:
    config, resolved_yaml = load_config([])
    assert isinstance(config, TrainConfig)
    assert config.env.name == "frozenlake" and config.algo.name == "gigpo" and config.model.path is None
    assert "run_name: frozenlake-gigpo" in resolved_yaml  # interpolations are resolved in the run's record


def test_an_unknown_env_lists_the_installed_ones() -> None:
    message = config_error(["env=frozenlak"])
    # One line, naming installed environments only: `env=plugin` is routing plumbing, not a choice.
    assert message == (
        "unknown env 'frozenlak' (did you mean 'frozenlake'?); installed (agentrl envs): "
        + ", ".join(env_names())
    )
    assert "frozenlake" in env_names()


def test_an_unknown_algo_lists_the_choices() -> None:
    presets = sorted(p.stem for p in (Path(__file__).parents[2] / "configs" / "algo").glob("*.yaml") if p.stem != "plugin")
    assert {"gigpo", "grpo", "rloo", "dapo"} <= set(presets)
    message = config_error(["algo=gipgo"])
    choices = sorted(set(presets) | set(ADVANTAGE_ESTIMATORS.names()))  # presets, and plugin estimators
    assert message == f"unknown algo 'gipgo' (did you mean 'gigpo'?); choose one of: {', '.join(choices)}"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.stepz=3", "unknown config key 'trainer.stepz' (did you mean 'steps'?); valid keys in 'trainer': "),
        ("rollout.group_sise=4", "unknown config key 'rollout.group_sise' (did you mean 'group_size'?)"),
        ("+trainer.stepz=3", "unknown config key 'trainer.stepz' (did you mean 'steps'?)"),
    ],
)
def test_an_unknown_key_suggests_the_close_one(override: str, expected: str) -> None:
    message = config_error([override])
    assert message.startswith(expected)


def test_env_params_are_free_form_and_the_error_says_how_to_add_one() -> None:
    assert "+env.params.colour=..." in config_error(["env.params.colour=blue"])


def test_a_wrong_type_names_the_key_and_the_value() -> None:
    message = config_error(["trainer.steps=many"])
    assert message.startswith("invalid config value: Value 'many' of type 'str' could not be converted to Integer")
    assert "trainer.steps" in message


@pytest.mark.parametrize("steps", [0, -3])
def test_steps_must_be_positive(steps: int) -> None:
    assert config_error([f"trainer.steps={steps}"]) == f"trainer.steps must be positive, got {steps}"


def test_a_model_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-checkpoint"
    assert f"model.path='{missing}' is not a directory with a Hugging Face checkpoint" in config_error(
        [f"model.path={missing}"]
    )


def test_a_model_path_without_a_checkpoint_in_it_is_refused(tmp_path: Path) -> None:
    assert "no config.json" in config_error([f"model.path={tmp_path}"])


def test_model_hf_without_a_path_is_refused_not_replaced_by_the_tiny_model() -> None:
    assert config_error(["model=hf"]) == "no value for model.path; set it on the command line, e.g. model.path=..."


def test_algo_grpo_brings_its_entropy_bonus() -> None:
    grpo, _ = load_config(["algo=grpo"])
    gigpo, _ = load_config(["algo=gigpo"])
    assert grpo.algo.name == "grpo" and grpo.learner.entropy_coef == 0.05
    assert gigpo.learner.entropy_coef == 0.0
    overridden, _ = load_config(["algo=grpo", "learner.entropy_coef=0.01"])  # the command line wins
    assert overridden.learner.entropy_coef == 0.01


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["+algo.params.gama=0.9"], "unknown parameter 'gama' (did you mean 'gamma'?) for algo 'gigpo'"),
        (["algo.params.mode=foo"], "invalid mode='foo'"),
        (["algo=grpo", "algo.params.norm=std"], "invalid norm='std'"),
    ],
)
def test_bad_algo_params_fail_at_start_up(overrides: list[str], expected: str) -> None:
    assert expected in config_error(overrides)


def test_an_unknown_section_lists_the_sections() -> None:
    assert config_error(["loss.entropy_coef=0.1"]) == (
        "unknown config key 'loss'; valid keys at the top level: env, algo, learner, model, rollout, trainer, infra, rewards, sft"
    )


def test_rloo_runs_are_not_named_like_grpo_runs() -> None:
    config, _ = load_config(["algo=rloo"])
    assert config.trainer.run_name == "frozenlake-rloo"
    assert config.algo.params["baseline"] == "leave_one_out"


def test_a_registered_env_without_a_yaml_file_composes(plugin_env: str) -> None:
    config, _ = load_config([f"env={plugin_env}"])
    assert config.env.name == plugin_env and config.env.params == {}
    assert config.trainer.run_name == f"{plugin_env}-gigpo"
    with_params, _ = load_config([f"env={plugin_env}", "+env.params.difficulty=3"])
    assert with_params.env.params == {"difficulty": 3}


def test_frozenlake_params_from_the_yaml_build_the_env() -> None:
    config, _ = load_config(["env.params.size=5"])
    assert FrozenLake(**config.env.params).size == 5


def test_the_cli_exits_2_with_a_short_message_for_an_unknown_env(tmp_path: Path) -> None:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "agentrl.cli.main", "train", "env=nope", f"trainer.runs_dir={tmp_path}"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "agentrl train: unknown env 'nope'; installed (agentrl envs): " + ", ".join(env_names())
    ]
    assert not any(tmp_path.iterdir())  # nothing was created for a run that never started


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("learner.ratio_level=turns", "learner.ratio_level must be one of token, turn, sequence, got 'turns'"),
        ("learner.dual_clip=0.5", "learner.dual_clip must be > 1 (3 is typical) or null, got 0.5"),
        ("learner.tis_cap=0", "learner.tis_cap must be > 0 (2 is typical) or null, got 0.0"),
    ],
)
def test_bad_learner_loss_settings_fail_at_start_up(override: str, expected: str) -> None:
    assert config_error([override]) == expected


def test_loss_settings_can_be_switched_off_with_null() -> None:
    config, _ = load_config(["learner.ratio_level=turn", "learner.dual_clip=3", "learner.tis_cap=null"])
    assert (config.learner.ratio_level, config.learner.dual_clip, config.learner.tis_cap) == ("turn", 3.0, None)


def test_loading_a_config_imports_no_torch() -> None:
    """Config schemas live in torch-free modules; a fresh process, so other tests' imports don't count."""
    probe = (
        "import sys\n"
        "from agentrl.trainer.config import load_config\n"
        "load_config(['env=frozenlake', 'model=tiny', 'algo=grpo', 'learner.lr_schedule=cosine'])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_a_misspelt_policy_loss_exits_2_before_the_run_starts(tmp_path: Path) -> None:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "agentrl.cli.main", "train", "learner.policy_loss=cispoo", f"trainer.runs_dir={tmp_path}"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "agentrl train: learner.policy_loss: unknown policy loss 'cispoo' (did you mean 'cispo'?)" in result.stderr
    assert not any(tmp_path.iterdir())
