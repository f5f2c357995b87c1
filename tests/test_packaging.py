"""The built distribution installs only `agentrl` names, and holds every shipped file of the four folders.

A wheel is built (no dependencies, no build isolation: a few seconds) from a copy of the sources, so
the repository's own build/ is untouched.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the package itself supports 3.10

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
DATA_PATTERNS: list[str] = PYPROJECT["tool"]["setuptools"]["package-data"]["*"]


def shipped_files(folder: str) -> list[Path]:
    """What an install must hold of `folder`: its modules and the files package-data names."""
    return [
        path
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix == ".py" or any(fnmatch.fnmatch(path.name, pattern) for pattern in DATA_PATTERNS))
    ]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in PACKAGE_DIR.values():
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = out.glob("agentrl-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_the_repository_folders_install_inside_the_agentrl_package() -> None:
    assert PACKAGE_DIR == {
        "agentrl": "agentrl",
        "agentrl.environments": "environments",
        "agentrl.sandboxes": "sandboxes",
        "agentrl.configs": "configs",
    }
    assert {name.split(".")[0] for name in PYPROJECT["tool"]["setuptools"]["packages"]} == {"agentrl"}
    targets = PYPROJECT["project"]["entry-points"]["agentrl.environments"].values()
    assert all(target.startswith("agentrl.environments.") for target in targets)


def test_the_wheel_has_only_agentrl_top_level_names(wheel_names: list[str]) -> None:
    assert {name.split("/")[0] for name in wheel_names} == {"agentrl", "agentrl-0.1.0.dist-info"}
    assert "agentrl/configs/train.yaml" in wheel_names and "agentrl/environments/frozenlake/frozenlake.py" in wheel_names


def test_the_wheel_holds_every_shipped_file_of_the_four_folders(wheel_names: list[str]) -> None:
    """A folder left out of pyproject's package list (a new environment, a data folder) fails here."""
    wanted = {
        f"{package.replace('.', '/')}/{path.relative_to(ROOT / folder).as_posix()}"
        for package, folder in PACKAGE_DIR.items()
        for path in shipped_files(folder)
    }
    assert len(wanted) > 200
    assert sorted(wanted - set(wheel_names)) == []


def test_a_checkout_run_without_an_install_maps_the_folders(tmp_path: Path) -> None:
    """`PYTHONPATH=<checkout>` with no site-packages at all (`-S`): agentrl/_checkout.py maps the folders."""
    probe = "import agentrl.environments, agentrl.configs; print(agentrl.environments.__file__, agentrl.configs.__file__)"
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert result.stdout.split() == [str(ROOT / "environments/__init__.py"), str(ROOT / "configs/__init__.py")]
