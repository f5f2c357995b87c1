"""Environments reach agentrl through one public surface: `agentrl.env`, `agentrl.types`, `agentrl.tools`."""

from __future__ import annotations

import ast
from pathlib import Path

import agentrl.env

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ("agentrl.env", "agentrl.types", "agentrl.tools")
SIBLINGS = ("agentrl.environments", "agentrl.sandboxes")
"""The built-in environments' own modules, and the sandboxes env=swe runs its commands in."""
SOURCES = sorted(ROOT.glob("environments/**/*.py")) + sorted((ROOT / "agentrl/cli/new_env_templates").glob("*.py.jinja"))


def agentrl_imports(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".jinja":  # the templates' python files, with their placeholders filled in
        text = text.replace("{{ package }}", "plugin").replace("{{ env_class }}", "E").replace("{{ spec_class }}", "S")
    found = []
    for node in ast.walk(ast.parse(text)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found += [name for name in names if name == "agentrl" or name.startswith("agentrl.")]
    return found


def test_built_in_environments_and_the_new_env_templates_import_only_the_public_surface() -> None:
    assert len(SOURCES) > 20
    outside = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in SOURCES
        for module in agentrl_imports(path)
        if module not in PUBLIC and not module.startswith(tuple(f"{sibling}." for sibling in SIBLINGS))
        and module not in SIBLINGS
    }
    assert not outside, f"import these through agentrl.env (or agentrl.types / agentrl.tools): {sorted(outside)}"


def test_every_public_name_resolves() -> None:
    for name in agentrl.env.__all__:
        assert getattr(agentrl.env, name) is not None, name
    assert agentrl.env.BM25Index.__module__ == "agentrl.retrieval.bm25"
