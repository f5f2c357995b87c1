"""SWE-style repair in a sandbox (QuixBugs, HumanEvalFix): entry point
`swe = "agentrl.environments.swe:SWERepair"`."""

from agentrl.environments.swe.metrics import repair_rates
from agentrl.environments.swe.swe import SWERepair, SWERepairEnv

__all__ = ["SWERepair", "SWERepairEnv", "repair_rates"]
