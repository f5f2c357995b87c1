"""agentrl example plugin: arithmetic with a calculator tool.

agentrl finds it through the entry point `calculator = "agentrl_calculator:CalculatorEnvSpec"` in
group `agentrl.environments` (see pyproject.toml); installing the package is all it takes.
"""

from agentrl_calculator.calculate import CalculationError, calculate
from agentrl_calculator.env import CalculatorEnv, CalculatorEnvSpec

__all__ = ["CalculationError", "CalculatorEnv", "CalculatorEnvSpec", "calculate"]
