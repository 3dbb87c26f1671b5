"""The claims registry (reports/claims.yaml) and the rules that turn evidence into verdicts.

Every claim is checked one of three ways:

- ``measured``: the claimed value against a metric this run produced. With ``tolerance`` t the claim
  holds on the band [value - t, value + t]. The metric's 95% interval (or the point, when it has none)
  lying inside the band is *reproduced*; lying wholly outside it is *not reproduced*; straddling an
  edge of the band is *inconclusive*. A metric the run did not produce is *inconclusive*. A claim that
  needs hardware or data this run does not have (``requires: [cuda]`` or ``[ucf_crime]``) is *not
  testable here*, and shows its stand-in metric beside it; it is never reproduced on a stand-in.
- ``arithmetic``: ``expression`` re-derives the claimed value from other numbers in the write-up;
  within the tolerance it is *reproduced*, otherwise *contradicted by the write-up's own numbers*.
- ``methodology``: ``expression`` is a condition that holds when the write-up's method is sound;
  true is *reproduced*, false is *contradicted by the write-up's own numbers*.

Boundaries are inclusive: a measurement exactly at the tolerance reproduces the claim.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import HarnessError

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
CONTRADICTED = "contradicted by the write-up's own numbers"
NOT_TESTABLE = "not testable here"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, CONTRADICTED, NOT_TESTABLE, INCONCLUSIVE)

REQUIREMENTS = {
    "cuda": "needs a CUDA GPU; run the benchmark stage on one (README: running on a GPU)",
    "ucf_crime": "needs the real UCF-Crime data; this run used {data_source}: it demonstrates the mechanism, "
                 "it does not measure UCF-Crime (README: running on real data)",
}
_EPS = 1e-9  # float slack on tolerance comparisons, so that a value exactly at tolerance counts as inside


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    claim: str
    value: float
    unit: str
    check: Literal["measured", "arithmetic", "methodology"]
    tolerance: float
    source: str = ""
    why: str = ""
    metric: str | None = None
    requires: tuple[str, ...] = ()
    stand_in: str | None = None
    inputs: dict[str, float] = field(default_factory=dict)
    expression: str | None = None


def load_claims(path: Path) -> list[Claim]:
    """The registry, validated: every problem is one sentence naming the claim and the key."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path} does not exist") from None
    except yaml.YAMLError as error:
        raise HarnessError(f"{path} is not valid YAML: {error}") from None
    entries = (document or {}).get("claims")
    if not isinstance(entries, list) or not entries:
        raise HarnessError(f"{path}: `claims` must be a non-empty list")
    claims, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{path}: claims[{i}]" + (f" ({entry.get('id')})" if isinstance(entry, dict) else "")
        if not isinstance(entry, dict):
            raise HarnessError(f"{where} must be a mapping")
        for key in ("id", "section", "claim", "value", "unit", "check", "tolerance"):
            if key not in entry:
                raise HarnessError(f"{where} has no `{key}`")
        if entry["id"] in seen:
            raise HarnessError(f"{where}: id {entry['id']!r} is used twice")
        seen.add(entry["id"])
        check = entry["check"]
        if check not in ("measured", "arithmetic", "methodology"):
            raise HarnessError(f"{where}: check = {check!r} must be measured, arithmetic or methodology")
        if check == "measured" and not entry.get("metric"):
            raise HarnessError(f"{where}: a measured claim needs `metric`")
        if check != "measured":
            if not entry.get("expression"):
                raise HarnessError(f"{where}: an {check} claim needs `expression`")
            try:
                evaluate(entry["expression"], entry.get("inputs") or {})
            except HarnessError as error:
                raise HarnessError(f"{where}: {error}") from None
        for requirement in entry.get("requires") or ():
            if requirement not in REQUIREMENTS:
                raise HarnessError(f"{where}: requires {requirement!r}; known: {', '.join(REQUIREMENTS)}")
        if not isinstance(entry["tolerance"], (int, float)) or entry["tolerance"] < 0:
            raise HarnessError(f"{where}: tolerance = {entry['tolerance']!r} must be a number >= 0")
        claims.append(Claim(
            id=entry["id"], section=str(entry["section"]), claim=entry["claim"], value=float(entry["value"]),
            unit=entry["unit"], check=check, tolerance=float(entry["tolerance"]), source=entry.get("source", ""),
            why=entry.get("why", ""), metric=entry.get("metric"), requires=tuple(entry.get("requires") or ()),
            stand_in=entry.get("stand_in"), inputs=dict(entry.get("inputs") or {}), expression=entry.get("expression")))
    return claims


# --------------------------------------------------------------------------- expressions
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "round": round, "sqrt": math.sqrt, "log": math.log, "exp": math.exp}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Constant, ast.Name, ast.Load,
          ast.Call, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd,
          ast.Not, ast.And, ast.Or, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.IfExp)


def evaluate(expression: str, inputs: dict[str, float]) -> float | bool:
    """Arithmetic over named inputs: numbers, + - * / // % **, comparisons, and/or/not, and
    min, max, abs, round, sqrt, log, exp. Anything else is refused."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise HarnessError(f"expression {expression!r} is not valid") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise HarnessError(f"expression {expression!r} uses {type(node).__name__}, which is not allowed")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise HarnessError(f"expression {expression!r} calls something other than {', '.join(_FUNCTIONS)}")
        if isinstance(node, ast.Name) and node.id not in inputs and node.id not in _FUNCTIONS:
            raise HarnessError(f"expression {expression!r} names {node.id!r}, which is not among its inputs")
    return eval(compile(tree, "<claim>", "eval"), {"__builtins__": {}}, {**_FUNCTIONS, **inputs})  # noqa: S307


# --------------------------------------------------------------------------- metrics
def lookup(bundle: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path in the metric bundle, or None."""
    node: Any = bundle
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def interval_of(bundle: dict[str, Any], dotted: str) -> tuple[float, float] | None:
    """The 95% interval stored beside a metric: `<name>_ci_low/_ci_high`, or `ci_low/ci_high` beside a `ratio`."""
    parent, _, name = dotted.rpartition(".")
    siblings = lookup(bundle, parent) if parent else bundle
    if not isinstance(siblings, dict):
        return None
    keys = ("ci_low", "ci_high") if name == "ratio" else (f"{name}_ci_low", f"{name}_ci_high")
    low, high = siblings.get(keys[0]), siblings.get(keys[1])
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        return float(low), float(high)
    return None


def _status_of(bundle: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    parent = dotted.rpartition(".")[0]
    node = lookup(bundle, parent) if parent else None
    return node if isinstance(node, dict) and "status" in node else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


# --------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str
    rule: str  # the rule that produced the verdict, in words, with the numbers
    measured: float | None = None
    interval: tuple[float, float] | None = None
    stand_in: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        c = self.claim
        return {"id": c.id, "section": c.section, "claim": c.claim, "check": c.check, "claimed": c.value,
                "unit": c.unit, "tolerance": c.tolerance, "verdict": self.verdict, "rule": self.rule,
                "measured": self.measured, "ci_low": self.interval[0] if self.interval else None,
                "ci_high": self.interval[1] if self.interval else None, "metric": c.metric,
                "stand_in": self.stand_in, "source": c.source, "why": c.why}


def judge(claim: Claim, bundle: dict[str, Any], context: dict[str, Any]) -> Verdict:
    """The verdict of one claim on the evidence in ``bundle`` (see the module docstring for the rules).

    ``context`` says what this run had: ``data_source`` and ``cuda`` (bool)."""
    if claim.check == "measured":
        return _judge_measured(claim, bundle, context)
    result = evaluate(claim.expression or "", claim.inputs)
    if claim.check == "methodology":
        holds = bool(result)
        rule = f"{claim.expression} is {holds} with {_inputs(claim)}"
        return Verdict(claim, REPRODUCED if holds else CONTRADICTED, rule, measured=float(holds))
    derived = float(result)
    gap = abs(derived - claim.value)
    inside = gap <= claim.tolerance * (1 + _EPS) + _EPS * abs(claim.value)
    rule = (f"{claim.expression} = {_fmt(derived)} with {_inputs(claim)}; claimed {_fmt(claim.value)}; "
            f"|difference| {_fmt(gap)} {'<=' if inside else '>'} tolerance {_fmt(claim.tolerance)}")
    return Verdict(claim, REPRODUCED if inside else CONTRADICTED, rule, measured=derived)


def _judge_measured(claim: Claim, bundle: dict[str, Any], context: dict[str, Any]) -> Verdict:
    missing = [r for r in claim.requires if not _has(r, context)]
    if missing:
        why = "; ".join(REQUIREMENTS[r].format(**context) for r in missing)
        return Verdict(claim, NOT_TESTABLE, why, stand_in=_stand_in(claim.stand_in, bundle))
    status = _status_of(bundle, claim.metric or "")
    if status is not None and status.get("status") == NOT_TESTABLE:
        stand_in = status.get("stand_in")
        stand_in_path = f"{claim.metric.rsplit('.', 2)[0]}.{stand_in}.ratio" if stand_in else claim.stand_in
        return Verdict(claim, NOT_TESTABLE, status.get("why", "the benchmark could not run this arm here"),
                       stand_in=_stand_in(stand_in_path, bundle))
    value = _number(lookup(bundle, claim.metric or ""))
    if value is None:
        return Verdict(claim, INCONCLUSIVE, f"metric {claim.metric} was not produced by this run",
                       stand_in=_stand_in(claim.stand_in, bundle))
    interval = interval_of(bundle, claim.metric or "")
    low, high = interval if interval else (value, value)
    band_low, band_high = claim.value - claim.tolerance, claim.value + claim.tolerance
    slack = _EPS * max(1.0, abs(claim.value))
    what = f"[{_fmt(low)}, {_fmt(high)}]" if interval else f"{_fmt(value)} (no interval)"
    band = f"claimed {_fmt(claim.value)} +- {_fmt(claim.tolerance)} = [{_fmt(band_low)}, {_fmt(band_high)}]"
    if low >= band_low - slack and high <= band_high + slack:
        verdict, rule = REPRODUCED, f"measured {what} lies inside {band}"
    elif high < band_low - slack or low > band_high + slack:
        verdict, rule = NOT_REPRODUCED, f"measured {what} lies outside {band}"
    else:
        verdict, rule = INCONCLUSIVE, f"measured {what} straddles an edge of {band}"
    return Verdict(claim, verdict, rule, measured=value, interval=interval)


def _has(requirement: str, context: dict[str, Any]) -> bool:
    if requirement == "cuda":
        return bool(context.get("cuda"))
    if requirement == "ucf_crime":
        return str(context.get("data_source", "")).startswith("ucf_crime")
    return False


def _stand_in(path: str | None, bundle: dict[str, Any]) -> dict[str, Any] | None:
    if not path:
        return None
    value = _number(lookup(bundle, path))
    interval = interval_of(bundle, path)
    return {"metric": path, "value": value, "ci_low": interval[0] if interval else None,
            "ci_high": interval[1] if interval else None}


def _inputs(claim: Claim) -> str:
    return ", ".join(f"{k} = {_fmt(v)}" for k, v in claim.inputs.items())


def _fmt(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.6g}"
    return f"{x:.4g}"


def judge_all(claims: list[Claim], bundle: dict[str, Any], context: dict[str, Any]) -> list[Verdict]:
    return [judge(claim, bundle, context) for claim in claims]


def tally(verdicts: list[Verdict]) -> dict[str, int]:
    return {name: sum(1 for v in verdicts if v.verdict == name) for name in VERDICTS}
