"""The `gpu` extra's vllm range installs beside agentrl: every vllm release in the range pins a torch,
a transformers range and a Python range that agentrl's own requirements admit.

The pins come from the releases' wheel METADATA on PyPI, captured once into
tests/fixtures/vllm_requirements.json (no network here; the file says how it was made). Widening the
range means capturing the new releases too: the test refuses a minor release in the range it has no pins for.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

if sys.version_info < (3, 11):
    pytest.skip("tomllib is Python 3.11+", allow_module_level=True)
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CAPTURED = json.loads((ROOT / "tests" / "fixtures" / "vllm_requirements.json").read_text(encoding="utf-8"))


def requirement(requirements: list[str], name: str) -> Requirement:
    (found,) = [r for r in map(Requirement, requirements) if r.name == name]
    return found


def pinned_version(specifier: SpecifierSet) -> Version:
    (pin,) = [s for s in specifier if s.operator == "=="]
    return Version(pin.version)


def test_torch_has_a_lower_bound_only() -> None:
    torch = requirement(PROJECT["dependencies"], "torch")
    assert {s.operator for s in torch.specifier} == {">="}, torch


def test_every_vllm_release_in_the_gpu_range_fits_agentrls_requirements() -> None:
    vllm = requirement(PROJECT["optional-dependencies"]["gpu"], "vllm")
    assert vllm.specifier, "the gpu extra's vllm must be a range"
    in_range = [v for v in CAPTURED["releases"] if vllm.specifier.contains(v)]
    assert in_range, f"no captured vllm release is in {vllm.specifier}"
    low = Version(next(s.version for s in vllm.specifier if s.operator == ">="))
    high = Version(next(s.version for s in vllm.specifier if s.operator == "<"))
    every_minor = {f"{low.major}.{minor}.0" for minor in range(low.minor, high.minor)}
    assert every_minor <= set(in_range), f"capture the pins of vllm {sorted(every_minor - set(in_range))}"

    torch = requirement(PROJECT["dependencies"], "torch").specifier
    transformers = requirement(PROJECT["dependencies"], "transformers").specifier
    python = SpecifierSet(PROJECT["requires-python"])
    for release in in_range:
        pins = CAPTURED["releases"][release]
        torch_pin = pinned_version(requirement(pins["requires_dist"], "torch").specifier)
        assert torch.contains(torch_pin), f"vllm {release} pins torch {torch_pin}, outside agentrl's {torch}"
        wanted = requirement(pins["requires_dist"], "transformers").specifier
        lowest = Version(next(s.version for s in wanted if s.operator == ">="))
        assert transformers.contains(lowest) and wanted.contains(lowest), (
            f"vllm {release} wants transformers {wanted}, disjoint from agentrl's {transformers}"
        )
        vllm_python = SpecifierSet(pins["requires_python"])
        assert any(python.contains(v) and vllm_python.contains(v) for v in ("3.11", "3.12", "3.13")), release


def test_the_cpu_wheel_first_is_not_replaced() -> None:
    """The README's `pip install torch==2.13.0` (CPU) first: agentrl's torch range keeps it."""
    assert requirement(PROJECT["dependencies"], "torch").specifier.contains("2.13.0")
