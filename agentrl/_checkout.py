"""`agentrl.environments`, `agentrl.sandboxes` and `agentrl.configs` when agentrl runs from a source checkout.

The repository keeps these three as top-level folders (environments/, sandboxes/, configs/), and
pyproject.toml's `package-dir` installs them inside the agentrl package, so an install (wheel or
editable) holds only `agentrl` names. Run from a checkout without installing it (`PYTHONPATH=<repo>`,
or a worktree next to an editable install of another checkout), nothing maps them; this finder does,
to the folders beside this checkout's `agentrl/`, and only when that directory is a checkout of agentrl
(its pyproject.toml is there), so a wheel installed in site-packages never picks up a stray
`site-packages/environments`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

FOLDERS = {"agentrl.environments": "environments", "agentrl.sandboxes": "sandboxes", "agentrl.configs": "configs"}
"""Package name → repository folder; the same mapping as pyproject.toml's `[tool.setuptools.package-dir]`."""


class CheckoutFolders(importlib.abc.MetaPathFinder):
    """Finds the three mapped packages in the checkout `root`; their submodules follow their `__path__`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        folder = FOLDERS.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, self.root / folder / "__init__.py", submodule_search_locations=[str(self.root / folder)]
        )


def install(package_dir: Path) -> None:
    """Map the folders when `package_dir` (agentrl's own directory) sits in a checkout of agentrl."""
    root = package_dir.parent
    checkout = (root / "pyproject.toml").is_file() and all((root / f / "__init__.py").is_file() for f in FOLDERS.values())
    if checkout and not any(isinstance(finder, CheckoutFolders) for finder in sys.meta_path):
        sys.meta_path.insert(0, CheckoutFolders(root))
