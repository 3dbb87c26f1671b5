"""Printed figures as the intervals they stand for, and expressions evaluated over those intervals.

A figure printed as "99.2%" says only that the true value lies in [0.9915, 0.9925]; a claim built from
printed figures is contradicted only when *no* values consistent with every printed figure satisfy it.
``value_range`` answers that for an expression in two ways at once:

- ``outer``: a guaranteed enclosure (interval arithmetic, operator by operator). If the claimed band misses
  it, no admissible inputs reach the claim: the claim is contradicted.
- ``attained``: values the expression really takes, at every corner of the input box (and its centre).
  Where the expression is monotone in each input (every registry expression is), the corners give the
  exact range; if the claimed band meets it, some admissible inputs satisfy the claim: it holds.

Between the two (a non-monotone expression whose enclosure is loose) the answer is left open.
Booleans are the intervals [0, 0] (false), [1, 1] (true) and [0, 1] (either, depending on rounding).
Intervals are closed: a value printed at the half-way point is given to the write-up.
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

Interval = tuple[float, float]
_PRINTED = re.compile(r"^[~≈]?\s*([+-]?)(\d[\d,]*)(?:\.(\d+))?\s*(%|×|x)?$")
_MAX_CORNERS = 4096
_MAX_EXPONENT = 1000


def printed_interval(figure: Any) -> Interval:
    """The interval a printed figure stands for.

    A YAML number is exact (counts, definitions: ``423``, ``0.99``). A string is a printed figure, rounded
    at its last digit: ``"99.2%"`` -> [0.9915, 0.9925], ``"1.14"`` -> [1.135, 1.145], ``"2×"`` -> [1.5, 2.5].
    Thousands separators are allowed (``"60,635"`` -> [60634.5, 60635.5]). A two-item list is a printed
    range, taken as its bounds: ``[5, 10]`` -> [5, 10]."""
    if isinstance(figure, bool):
        raise HarnessError(f"{figure!r} is a boolean, not a number")
    if isinstance(figure, (int, float)):
        if not math.isfinite(figure):
            raise HarnessError(f"{figure!r} is not a finite number")
        return float(figure), float(figure)
    if isinstance(figure, (list, tuple)) and len(figure) == 2:
        low, high = (printed_interval(f) for f in figure)
        if low[0] > high[1]:
            raise HarnessError(f"range {list(figure)!r} runs backwards")
        return low[0], high[1]
    if not isinstance(figure, str):
        raise HarnessError(f"{figure!r} is neither a number, a printed figure nor a [low, high] range")
    match = _PRINTED.match(figure.strip())
    if not match:
        raise HarnessError(f"{figure!r} is not a printed number (digits, optional decimals, optional % or x)")
    sign, whole, decimals, unit = match.groups()
    value = float(whole.replace(",", "") + ("." + decimals if decimals else ""))
    half = 0.5 * 10.0 ** -(len(decimals) if decimals else 0)
    scale = 0.01 if unit == "%" else 1.0
    value = -value if sign == "-" else value
    return (value - half) * scale, (value + half) * scale


# --------------------------------------------------------------------------- interval arithmetic
def _add(a: Interval, b: Interval) -> Interval:
    return a[0] + b[0], a[1] + b[1]


def _sub(a: Interval, b: Interval) -> Interval:
    return a[0] - b[1], a[1] - b[0]


def _mul(a: Interval, b: Interval) -> Interval:
    products = [x * y for x in a for y in b]
    return min(products), max(products)


def _div(a: Interval, b: Interval) -> Interval:
    if b == (0.0, 0.0):
        raise HarnessError("divides by zero")
    if b[0] <= 0 <= b[1]:
        return -math.inf, math.inf  # the divisor's interval holds zero: nothing is excluded
    return _mul(a, (1 / b[1], 1 / b[0]))


def _pow(a: Interval, b: Interval) -> Interval:
    if max(abs(b[0]), abs(b[1])) > _MAX_EXPONENT:
        raise HarnessError(f"raises to a power above {_MAX_EXPONENT}")
    if b[0] == b[1] and float(b[0]).is_integer():
        n = int(b[0])
        ends = [x ** n for x in a if not (x == 0 and n < 0)]
        if n < 0 and a[0] <= 0 <= a[1]:
            return -math.inf, math.inf
        if n % 2 == 0 and a[0] < 0 < a[1]:
            return 0.0, max(ends)
        return min(ends), max(ends)
    if a[0] < 0:
        raise HarnessError("raises a negative number to a fractional power")
    corners = [x ** y for x in a for y in b if not (x == 0 and y < 0)]
    return min(corners), max(corners)


def _monotone(name: str, fn, domain_low: float) -> Any:
    def apply(a: Interval) -> Interval:
        if a[0] < domain_low or (name == "log" and a[0] <= 0):
            raise HarnessError(f"takes {name} of a value outside its domain ({a[0]:.6g})")
        return fn(a[0]), fn(a[1])
    return apply


def _abs(a: Interval) -> Interval:
    if a[0] <= 0 <= a[1]:
        return 0.0, max(-a[0], a[1])
    return min(abs(a[0]), abs(a[1])), max(abs(a[0]), abs(a[1]))


def _compare(op: ast.cmpop, a: Interval, b: Interval) -> Interval:
    """[1, 1] when the comparison holds for every value in the intervals, [0, 0] for none, else [0, 1]."""
    if isinstance(op, ast.Lt):
        sure, never = a[1] < b[0], a[0] >= b[1]
    elif isinstance(op, ast.LtE):
        sure, never = a[1] <= b[0], a[0] > b[1]
    elif isinstance(op, ast.Gt):
        sure, never = a[0] > b[1], a[1] <= b[0]
    elif isinstance(op, ast.GtE):
        sure, never = a[0] >= b[1], a[1] < b[0]
    elif isinstance(op, ast.Eq):
        sure, never = a[0] == a[1] == b[0] == b[1], a[1] < b[0] or b[1] < a[0]
    else:  # NotEq
        sure, never = a[1] < b[0] or b[1] < a[0], a[0] == a[1] == b[0] == b[1]
    return (1.0, 1.0) if sure else (0.0, 0.0) if never else (0.0, 1.0)


_UNARY_FUNCTIONS = {"sqrt": _monotone("sqrt", math.sqrt, 0.0), "log": _monotone("log", math.log, 0.0),
                    "exp": _monotone("exp", math.exp, -math.inf), "abs": _abs}
_BINARY = {ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div, ast.Pow: _pow}


def enclose(node: ast.AST, env: dict[str, Interval]) -> Interval:  # noqa: C901 -- one branch per operator of the expression language
    """A guaranteed enclosure of ``node``'s value when every name lies in its interval of ``env``."""
    if isinstance(node, ast.Expression):
        return enclose(node.body, env)
    if isinstance(node, ast.Constant):
        return float(node.value), float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        inner = enclose(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -inner[1], -inner[0]
        if isinstance(node.op, ast.Not):
            return 1 - inner[1], 1 - inner[0]
        return inner
    if isinstance(node, ast.BinOp):
        a, b = enclose(node.left, env), enclose(node.right, env)
        if type(node.op) in _BINARY:
            return _BINARY[type(node.op)](a, b)
        if isinstance(node.op, ast.FloorDiv):
            low, high = _div(a, b)
            return math.floor(low), math.floor(high)
        if isinstance(node.op, ast.Mod) and a[0] == a[1] and b[0] == b[1]:
            return a[0] % b[0], a[0] % b[0]
        return -math.inf, math.inf
    if isinstance(node, ast.BoolOp):
        parts = [enclose(v, env) for v in node.values]
        pick = min if isinstance(node.op, ast.And) else max
        return pick(p[0] for p in parts), pick(p[1] for p in parts)
    if isinstance(node, ast.Compare):
        result, left = (1.0, 1.0), enclose(node.left, env)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = enclose(comparator, env)
            step = _compare(op, left, right)
            result, left = (min(result[0], step[0]), min(result[1], step[1])), right
        return result
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        args = [enclose(a, env) for a in node.args]
        if name in _UNARY_FUNCTIONS:
            return _UNARY_FUNCTIONS[name](args[0])
        if name in ("min", "max"):
            pick = min if name == "min" else max
            return pick(a[0] for a in args), pick(a[1] for a in args)
        if name == "round":
            digits = int(args[1][0]) if len(args) > 1 else 0
            return round(args[0][0], digits), round(args[0][1], digits)
    raise HarnessError(f"cannot bound {ast.dump(node)[:60]}")


# --------------------------------------------------------------------------- ranges
@dataclass(frozen=True)
class Range:
    outer: Interval      # guaranteed to hold every value the expression can take
    attained: Interval   # from the smallest to the largest value seen at the box's corners and centre
    exact: bool          # no input carries rounding: outer == attained == the one value


def corners(env: dict[str, Interval]) -> list[dict[str, float]]:
    """Every corner of the input box and its centre (a random sample of corners past 4,096)."""
    names = list(env)
    widths = [n for n in names if env[n][0] != env[n][1]]
    centre = {n: (env[n][0] + env[n][1]) / 2 for n in names}
    if len(widths) > 12:
        import random

        rng = random.Random(0)
        choices = [tuple(rng.randint(0, 1) for _ in widths) for _ in range(_MAX_CORNERS)]
    else:
        choices = list(itertools.product((0, 1), repeat=len(widths)))
    points = [centre]
    for choice in choices:
        point = dict(centre)
        point.update({n: env[n][c] for n, c in zip(widths, choice, strict=True)})
        points.append(point)
    return points


# --------------------------------------------------------------------------- the expression language
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "round": round, "sqrt": math.sqrt, "log": math.log, "exp": math.exp}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Constant, ast.Name, ast.Load,
          ast.Call, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd,
          ast.Not, ast.And, ast.Or, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


def parse(expression: str, names: set[str] | dict[str, Any]) -> ast.Expression:
    """The checked syntax tree: numbers, + - * / // % **, comparisons, and/or/not, and min, max, abs,
    round, sqrt, log, exp over the given names. Anything else is refused in one sentence."""
    if not isinstance(expression, str):
        raise HarnessError(f"expression {expression!r} is not text")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise HarnessError(f"expression {expression!r} is not valid") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise HarnessError(f"expression {expression!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
            raise HarnessError(f"expression {expression!r} holds {node.value!r}, which is not a number")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise HarnessError(f"expression {expression!r} calls something other than {', '.join(_FUNCTIONS)}")
        if isinstance(node, ast.Name) and node.id not in names and node.id not in _FUNCTIONS:
            raise HarnessError(f"expression {expression!r} names {node.id!r}, which is not among its inputs")
    return tree


def evaluate(expression: str, inputs: dict[str, float]) -> float | bool:
    """The expression's value at one point; arithmetic faults are one sentence, never a traceback."""
    tree = parse(expression, inputs)
    try:
        enclose(tree, {k: (float(v), float(v)) for k, v in inputs.items()})  # refuses huge powers before eval runs
        return eval(compile(tree, "<claim>", "eval"), {"__builtins__": {}}, {**_FUNCTIONS, **inputs})  # noqa: S307
    except HarnessError as error:
        raise HarnessError(f"expression {expression!r} {error}") from None
    except ZeroDivisionError:
        raise HarnessError(f"expression {expression!r} divides by zero with {inputs}") from None
    except (ValueError, OverflowError, TypeError) as error:
        raise HarnessError(f"expression {expression!r} cannot be computed with {inputs}: {error}") from None


def value_range(expression: str, env: dict[str, Interval]) -> Range:
    """The range of ``expression`` when each input may be anything inside its interval (module docstring)."""
    tree = parse(expression, env)
    try:
        outer = enclose(tree, env)
    except HarnessError as error:
        raise HarnessError(f"expression {expression!r} {error}") from None
    values = [float(evaluate(expression, point)) for point in corners(env)]
    exact = all(low == high for low, high in env.values())
    return Range(outer=outer, attained=(min(values), max(values)), exact=exact)
