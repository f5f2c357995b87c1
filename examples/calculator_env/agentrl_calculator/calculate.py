"""The calculator tool: arithmetic on numbers only, evaluated from the syntax tree, never with eval().

Model output is untrusted text. Walking the `ast` and allowing only numbers, + - * / and parentheses
means no names, calls or attribute access can run, and without `**` no expression can blow up.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

MAX_EXPRESSION_CHARS = 200
"""Long enough for any sensible question; bounds the size of the numbers a product can reach."""

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-"})


class CalculationError(ValueError):
    """The expression is not plain arithmetic, or has no value (division by zero)."""


def calculate(expression: str) -> float:
    """The value of an arithmetic expression such as `(12 + 7) × 3 − 4 / 2`."""
    text = expression.translate(_SYMBOLS).strip()
    if not text:
        raise CalculationError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculationError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculationError(f"not an arithmetic expression: {exc.msg}") from None
    return _evaluate(tree.body)


def format_number(value: float) -> str:
    """`19` rather than `19.0`, and no float noise beyond 12 significant digits."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".12g")


def _evaluate(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):  # bool is not a number here
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise CalculationError("division by zero")
        return _BINARY[type(node.op)](left, right)
    allowed = "numbers, + - * / (also × ÷ −) and parentheses"
    raise CalculationError(f"unsupported {type(node).__name__} in expression; allowed: {allowed}")
