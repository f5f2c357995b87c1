"""`agentrl new-env NAME [--dir DIR]`: scaffold an environment plugin package.

The package is complete and working from the first minute: a pyproject with the
`agentrl.environments` entry point, an `EnvSpec`/`Env` pair built on `agentrl.tools.Toolbox`, typed
tools, a config file with the default parameters, and tests. Install it with
`pip install --no-deps --no-build-isolation -e DIR` and it shows up in `agentrl envs` and trains with
`agentrl train env=NAME`. The example task is meant to be replaced (see the generated README).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# template -> path inside the package directory ("{package}" is the import package's name)
FILES = {
    "pyproject.toml.jinja": "pyproject.toml",
    "README.md.jinja": "README.md",
    "conftest.py.jinja": "conftest.py",
    "__init__.py.jinja": "{package}/__init__.py",
    "env.py.jinja": "{package}/env.py",
    "tools.py.jinja": "{package}/tools.py",
    "config.yaml.jinja": "{package}/config.yaml",
    "test_env.py.jinja": "tests/test_{name}.py",
}


def template_values(name: str) -> dict[str, str]:
    """Names derived from the environment name: `my_env` -> package `agentrl_my_env`, distribution
    `agentrl-my-env`, classes `MyEnvEnv` / `MyEnvSpec`."""
    camel = "".join(part.capitalize() for part in name.split("_") if part)
    return {
        "name": name,
        "package": f"agentrl_{name}",
        "distribution": f"agentrl-{name.replace('_', '-')}",
        "env_class": f"{camel}Env",
        "spec_class": f"{camel}Spec",
    }


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(
            f"invalid environment name {name!r}: use lower-case letters, digits and underscores, "
            f"starting with a letter (it becomes a Python package name and the env= value)"
        )


def scaffold(name: str, directory: Path) -> list[Path]:
    """Write the plugin package for `name` into `directory` (new or empty); returns the files written."""
    check_name(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(
            f"{directory} already exists and is not an empty directory; choose another --dir"
        )
    values = template_values(name)
    templates = Environment(
        loader=PackageLoader("agentrl.cli", "new_env_templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    written = []
    for template, relative in FILES.items():
        path = directory / relative.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(templates.get_template(template).render(**values), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agentrl new-env", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="environment name: the entry point and the env= value, e.g. my_env")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write the package (default: ./agentrl-NAME)"
    )
    args = parser.parse_args(argv)
    from agentrl.env.registry import list_envs

    if any(info.name == args.name for info in list_envs()):
        print(
            f"agentrl new-env: an environment named {args.name!r} is already installed; choose another name",
            file=sys.stderr,
        )
        return 2
    try:
        check_name(args.name)
        directory = args.dir or Path(template_values(args.name)["distribution"])
        written = scaffold(args.name, directory)
    except (ValueError, FileExistsError) as error:
        print(f"agentrl new-env: {error}", file=sys.stderr)
        return 2
    print(f"created {directory}/ ({len(written)} files). Next:")
    print(f"  pip install --no-deps --no-build-isolation -e {directory}")
    print("  agentrl envs")
    print(f"  python -m pytest {directory}/tests -q")
    return 0
