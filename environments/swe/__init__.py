"""SWE-style repair in a sandbox (QuixBugs, HumanEvalFix): entry point
`swe = "environments.swe:SWERepair"`."""

from environments.swe.metrics import repair_rates
from environments.swe.swe import SWERepair, SWERepairEnv

__all__ = ["SWERepair", "SWERepairEnv", "repair_rates"]
