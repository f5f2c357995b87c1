"""The error a person fixes by changing the configuration.

Its own module, importing nothing, so that every package (policy, infra, rollout, trainer, the CLI) can
raise it without importing the trainer's config composition.
"""


class ConfigError(ValueError):
    """A configuration a person has to fix; the message says what and how."""
