"""The typed training configuration, and its composition from hydra config groups.

Hydra composes `configs/train.yaml` with the groups `env/`, `algo/`, `model/`, `rollout/`, `learner/`,
`trainer/` and the command-line overrides; the result is validated into these dataclasses, so a typo
fails at start-up with the list of valid keys instead of being silently ignored.

Each section's schema lives in the package that owns it (`ModelConfig` in agentrl/policy/config.py,
`RolloutConfig` in agentrl/rollout/config.py, `LearnerSettings` in agentrl/learner/settings.py,
`InfraConfig` in agentrl/infra/settings.py); this module only assembles them. None of them imports
torch, so loading a config (and so `agentrl train --help`-style refusals) stays fast and light.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from agentrl.errors import ConfigError
from agentrl.infra.settings import InfraConfig
from agentrl.learner.settings import LearnerSettings
from agentrl.policy.config import ModelConfig
from agentrl.rollout.config import RolloutConfig

CONFIG_DIR = Path(str(importlib.resources.files("agentrl.configs")))
"""The shipped config groups: the package agentrl.configs (the repository's configs/ folder), found where
it is installed (a wheel, an editable install) or in the checkout agentrl runs from."""
CONFIG_GROUPS = ("env", "algo", "model", "rollout", "learner", "trainer", "infra")


@dataclass
class EnvConfig:
    name: str = "frozenlake"
    """Registered environment name (`agentrl envs` lists them)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the environment's spec class."""


@dataclass
class AlgoConfig:
    name: str = "gigpo"
    """Credit assigner passed to `agentrl.credit.compute_advantages`."""
    params: dict[str, Any] = field(default_factory=dict)
    """Its parameters (e.g. `mode`, `gamma`, `omega` for GiGPO)."""


@dataclass
class TrainerConfig:
    steps: int = 300
    seed: int = 0
    run_name: str = "frozenlake-gigpo-tiny"
    runs_dir: str = "runs"
    save_every: int = 10
    keep_checkpoints: int = 2
    resume: bool = False
    """Continue `runs/<run_name>` from its last checkpoint."""
    save_trajectories: bool = True
    progress: bool = True
    eval_every: int = 0
    """Evaluate on held-out tasks before training and every this many steps (0: never)."""
    eval_tasks: int = 64
    loggers: list[str] = field(default_factory=list)
    """Dashboards that mirror `metrics.jsonl` (the source of truth): `tensorboard`, `wandb` (offline
    without WANDB_API_KEY). Each needs its package installed."""

    def __post_init__(self) -> None:
        from agentrl.tracking import check_logger_names

        check_logger_names(self.loggers)


@dataclass
class SftConfig:
    """`agentrl sft` only (configs/sft.yaml); `agentrl train` ignores it."""

    demos: int = 64
    """Train on the environment's demonstrations of the first this many train tasks (those it offers
    one for, kept when they succeed)."""
    from_run: str | None = None
    """Instead of demonstrations: the successful episodes stored in this run directory's trajectories
    (rejection-sampling fine-tuning). Its tokenizer must be the model's (e.g. `model.path=<run>/final`)."""
    epochs: int = 3
    """Passes over the episodes; each pass visits them in a new seeded order."""
    episodes_per_step: int = 8
    """Episodes per learner step (one AdamW step on their action tokens)."""

    def __post_init__(self) -> None:
        if self.demos < 1 or self.epochs < 1 or self.episodes_per_step < 1:
            raise ValueError(
                f"sft.demos, sft.epochs and sft.episodes_per_step must be positive, got "
                f"{self.demos}, {self.epochs}, {self.episodes_per_step}"
            )


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    learner: LearnerSettings = field(default_factory=LearnerSettings)
    model: ModelConfig = field(default_factory=ModelConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    infra: InfraConfig = field(default_factory=InfraConfig)
    rewards: list[dict[str, Any]] = field(default_factory=list)
    """Reward transforms run in this order before credit assignment (`agentrl.credit.rewards`), e.g.
    `[{name: otc_grpo, alpha: 1.0, c: 1.0}]`; empty: the environment's rewards unchanged."""
    sft: SftConfig = field(default_factory=SftConfig)


def compose_config(overrides: list[str], config_dir: Path = CONFIG_DIR, config_name: str = "train") -> DictConfig:
    """Compose `train.yaml` (or `sft.yaml`, which extends it) with hydra, as `agentrl train k=v ...` does.

    `env=NAME` for an installed plugin that ships no config file in `configs/env/` selects the
    generic `env=plugin` config with `env.name=NAME` and no parameters (add them with
    `+env.params.key=value`); `algo=NAME` for a plugin estimator without a preset in `configs/algo/`
    does the same with `algo=plugin` (its parameters' defaults come from its signature).
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException

    overrides = _route_plugins(overrides, config_dir)
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return compose(config_name=config_name, overrides=overrides)
    except (ConfigCompositionException, MissingConfigException) as error:
        raise ConfigError(_explain_composition_error(error, config_dir)) from None


def _plugin_names(group: str) -> list[str]:
    """Names an installed plugin may provide for config group `group` (imported only when asked)."""
    if group == "env":
        from agentrl.env.registry import env_names

        return env_names()
    from agentrl.credit import ADVANTAGE_ESTIMATORS

    return ADVANTAGE_ESTIMATORS.names()


def _route_plugins(overrides: list[str], config_dir: Path) -> list[str]:
    routed = []
    for override in overrides:
        key, sep, value = override.partition("=")
        plugin = key in ("env", "algo") and sep and not (config_dir / key / f"{value}.yaml").exists()
        if plugin and value in _plugin_names(key):
            routed += [f"{key}=plugin", f"{key}.name={value}"]
            continue
        routed.append(override)
    return routed


def _explain_composition_error(error: Exception, config_dir: Path) -> str:
    message = str(error).split("\nConfig search path:")[0].strip()
    unknown = re.search(r"Could not override '([^']+)'", message)
    if unknown:
        return _explain_unknown_key(unknown.group(1))
    missing_option = re.search(r"Could not find '(\w+)/([^']*)'", message)
    if missing_option:
        # Hydra's own message spans lines and lists `env=plugin`, which is plumbing, not a choice.
        group, name = missing_option.groups()
        presets = {p.stem for p in (config_dir / group).glob("*.yaml")} - {"plugin"}
        if group == "env":
            choices, listed = _plugin_names("env"), "installed (agentrl envs)"
        elif group == "algo":
            choices, listed = sorted(presets | set(_plugin_names("algo"))), "choose one of"
        else:
            choices, listed = sorted(presets), "choose one of"
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown {group} '{name}'{hint}; {listed}: {', '.join(choices)}"
    return message


def validate_config(composed: DictConfig) -> TrainConfig:
    """Merge into the typed schema; unknown keys and wrong types fail with the valid choices."""
    # A `???` merged into a schema field with a default keeps the default silently (`model=hf`
    # without `model.path` would train the tiny model), so missing values are refused first.
    missing = _missing_values(OmegaConf.to_container(composed, resolve=False))
    if missing:
        raise ConfigError(
            f"no value for {', '.join(missing)}; set it on the command line, e.g. {missing[0]}=..."
        )
    schema = OmegaConf.structured(TrainConfig)
    try:
        merged = OmegaConf.merge(schema, composed)
    except ConfigKeyError as error:
        raise ConfigError(_explain_unknown_key(str(error.full_key or error.key))) from None
    except ValidationError as error:
        raise ConfigError(f"invalid config value: {error.msg} (key {error.full_key})") from None
    try:
        config = OmegaConf.to_object(merged)
    except ValueError as error:  # a section's own check (e.g. LearnerSettings.__post_init__)
        raise ConfigError(str(error)) from None
    assert isinstance(config, TrainConfig)
    _check_values(config)
    return config


def _missing_values(container: Any, prefix: str = "") -> list[str]:
    if not isinstance(container, dict):
        return []
    found = []
    for key, value in container.items():
        if value == "???":
            found.append(f"{prefix}{key}")
        else:
            found += _missing_values(value, f"{prefix}{key}.")
    return found


def _explain_unknown_key(full_key: str) -> str:
    section, _, key = full_key.rpartition(".")
    target: Any = TrainConfig
    for index, part in enumerate(section.split(".") if section else []):
        schema_field = {f.name: f for f in fields(target)}.get(part) if is_dataclass(target) else None
        if schema_field is None:
            return _explain_unknown_key(".".join(section.split(".")[: index + 1]))
        target = schema_field.default_factory  # type: ignore[misc]
    if target is dict:
        return f"'{section}' is free-form: add a new key with '+{full_key}=...'"
    valid = [f.name for f in fields(target)] if is_dataclass(target) else []
    if key in valid:  # a schema field no config file sets (e.g. `rewards`): hydra needs '+' to add it
        return f"'{full_key}' is not set by any config file: add it with '+{full_key}=...'"
    hint = difflib.get_close_matches(key, valid, n=1)
    did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
    where = f"in '{section}'" if section else "at the top level"
    return f"unknown config key '{full_key}'{did_you_mean}; valid keys {where}: {', '.join(valid)}"


def _check_values(config: TrainConfig) -> None:
    positive = {
        "rollout.tasks_per_step": config.rollout.tasks_per_step,
        "rollout.group_size": config.rollout.group_size,
        "rollout.max_context_tokens": config.rollout.max_context_tokens,
        "trainer.steps": config.trainer.steps,
        "learner.micro_batch_tokens": config.learner.micro_batch_tokens,
        "learner.epochs": config.learner.epochs,
        "trainer.save_every": config.trainer.save_every,
        "model.max_new_tokens": config.model.max_new_tokens,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    _check_algo(config.algo)
    _check_rewards(config.rewards)
    if config.model.backend not in ("hf", "openai", "vllm"):
        raise ConfigError(f"model.backend must be one of hf, openai, vllm, got {config.model.backend!r}")
    if config.model.backend == "openai" and not (config.model.base_url and config.model.served_model):
        raise ConfigError("model.backend=openai needs model.base_url (e.g. http://localhost:8000/v1) and model.served_model")
    if config.model.lora.enabled and config.learner.fsdp:
        raise ConfigError("model.lora with learner.fsdp is not built (FSDP shards every weight); use one or the other")
    if config.model.temperature <= 0:
        raise ConfigError(f"model.temperature must be > 0, got {config.model.temperature}")
    if config.model.device.startswith("cuda") or config.model.dtype == "bfloat16":
        # Only a CUDA device or bfloat16 weights can be refused by this machine; asking torch is left
        # to these configs, so that loading any other config never imports it.
        from agentrl.policy.placement import this_machine_placement

        try:  # a GPU asked for on a machine without one fails now, not after the environment is built
            this_machine_placement(config.model.device, config.model.dtype)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if config.learner.fsdp and (config.model.device, config.model.dtype) != ("auto", "auto"):
        raise ConfigError(
            f"learner.fsdp places each rank's shards on its own device (cuda:LOCAL_RANK, or the CPU) in float32; "
            f"leave model.device and model.dtype at auto (got {config.model.device}, {config.model.dtype}) "
            "and use learner.dtype=bfloat16 for bf16 compute"
        )
    if config.model.path is not None and not (Path(config.model.path) / "config.json").is_file():
        raise ConfigError(
            f"model.path={config.model.path!r} is not a directory with a Hugging Face checkpoint "
            "(no config.json in it)"
        )


def _check_algo(algo: AlgoConfig) -> None:
    """Run the estimator on no data: it validates its parameter names and values up front, so a
    typo fails before the model is built instead of after the first rollout."""
    from agentrl.credit import compute_advantages

    try:
        compute_advantages([], algo.name, **algo.params)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"algo={algo.name}: {error}") from None


def _check_rewards(entries: list[dict[str, Any]]) -> None:
    """Parse the transform list now, so an unknown transform or parameter fails at start-up."""
    from agentrl.credit.rewards import parse_reward_transforms

    try:
        parse_reward_transforms(entries)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def load_config(
    overrides: list[str], config_dir: Path = CONFIG_DIR, config_name: str = "train"
) -> tuple[TrainConfig, str]:
    """The typed config and its resolved YAML (written to the run directory)."""
    composed = compose_config(overrides, config_dir, config_name)
    config = validate_config(composed)
    return config, OmegaConf.to_yaml(OmegaConf.structured(config))
