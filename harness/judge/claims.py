"""The claims registry (reports/claims.yaml) and the rules that turn evidence into verdicts.

Every claim quotes the write-up (``source``, located to its line) and says how the harness reads it
(``reading``). Its verdict is decided one of three ways:

- ``arithmetic``: ``expression`` re-derives the claimed ``value`` from other figures. Printed figures carry
  their rounding ("99.2%" is [99.15, 99.25]), and the claim is judged over every admissible input
  (harness.judge.intervals): it *holds* when some admissible inputs give a value inside the claimed band (the
  printed value's own interval, widened by ``tolerance`` or ``relative``), and is *contradicted* only when
  no admissible inputs do.
- ``methodology``: ``expression`` is a condition that is true when the write-up's method is sound; it
  *holds* when some admissible inputs make it true, is *contradicted* when none do.
- ``measured``: the claimed band against a metric this run produced. The metric's 95% interval (or its
  point) inside the band *reproduces* the claim; wholly outside it, the claim is *not reproduced by this
  run*; straddling an edge is *inconclusive*. With ``direction: at_least`` the band has no upper edge and a
  result above the claimed figure *exceeds the claim*. A claim that needs hardware, data or a training
  scale the run does not have (``requires``) is *not testable here* / *not comparable at this run's scale*
  and shows the run's stand-in figure beside it; it is never judged on the stand-in.

A contradiction names where its deciding inputs come from (``provenance``): the write-up alone, its public
code (reference.md §1), the dataset's counts (reference.md §2), or how a library or number format works.
Claims that follow from one printed slip share a ``finding``; the headline counts findings.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import HarnessError
from harness.judge.coverage import lines_of
from harness.judge.intervals import Interval, parse, printed_interval, value_range

REPRODUCED = "reproduced"
EXCEEDS = "exceeds the claim"
NOT_REPRODUCED = "not reproduced by this run"
NOT_TESTABLE = "not testable here"
NOT_COMPARABLE = "not comparable at this run's scale"
INCONCLUSIVE = "inconclusive"
CONTRADICTED_BY = {
    "writeup": "contradicted by the write-up's own figures",
    "code": "contradicted by its public code",
    "dataset": "contradicted by the dataset's own counts",
    "library": "contradicted by how the library works",
}
CONTRADICTED = CONTRADICTED_BY["writeup"]
# most decisive first: a finding takes the first verdict any of its claims has
VERDICTS = (*CONTRADICTED_BY.values(), NOT_REPRODUCED, INCONCLUSIVE, EXCEEDS, REPRODUCED, NOT_COMPARABLE, NOT_TESTABLE)
PROVENANCES = (*CONTRADICTED_BY, "measurement")
SEVERITIES = ("material", "minor")

REQUIREMENTS = {
    "cuda": "needs a CUDA GPU; run the benchmark stage on one (README: running on a GPU)",
    "ucf_crime": "needs the write-up's data (the Kaggle UCF-Crime frames, data=ucf_crime_frames); this run used "
                 "{data_source}: it demonstrates the mechanism, it does not measure UCF-Crime",
    "paper_scale": "needs a run at the write-up's scale (data=ucf_crime_frames with profile=paper: efficientnet_b0, "
                   "64 px, batch 64, up to 100 epochs); this run is profile {profile} on {data_source}, so its "
                   "figure is shown beside the claim, not judged against it",
}
_EPS = 1e-9  # float slack, so that a value exactly at a band edge counts as inside


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    source: str                     # the write-up's words, verbatim
    reading: str                    # how the registry reads them (shown as such, never as the write-up's words)
    check: Literal["measured", "arithmetic", "methodology"]
    value: Any = None               # printed figure: a number (exact), a string (rounded), or [low, high]
    unit: str = ""
    tolerance: float = 0.0          # absolute widening of the claimed band
    relative: float = 0.0           # relative widening (a fraction of the claimed value)
    direction: Literal["two_sided", "at_least"] = "two_sided"
    provenance: str = "writeup"
    severity: str = "material"
    finding: str = ""               # claims sharing one printed slip share a finding id (default: the claim's id)
    why: str = ""
    note: str = ""                  # an answer to a reviewer's objection, shown beside the claim
    wrong: str = ""                 # methodology: what is wrong when the condition fails, in one plain sentence
    assumptions: tuple[str, ...] = ()
    metric: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    stand_in: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    expression: str | None = None
    line: int | None = None         # the write-up line of ``source`` (set by locate)
    also: tuple[str, ...] = ()      # other write-up lines printing the same figure (for the coverage scan)

    @property
    def band(self) -> Interval:
        """The claimed value's printed interval, widened by the tolerances."""
        low, high = printed_interval(self.value)
        widen = max(self.tolerance, self.relative * max(abs(low), abs(high)))
        return low - widen, high + widen

    @property
    def group(self) -> str:
        return self.finding or self.id


@dataclass(frozen=True)
class Finding:
    id: str
    title: str
    severity: str
    lead: str = ""  # the claim whose arithmetic says best what is wrong (default: the most decisive verdict's)


@dataclass(frozen=True)
class Registry:
    claims: list[Claim]
    findings: dict[str, Finding]
    extra: dict[str, Any]           # other top-level sections (feasibility, coverage), validated by their users


_KEYS = {"id", "section", "source", "reading", "check", "value", "unit", "tolerance", "relative", "direction",
         "provenance", "severity", "finding", "why", "note", "wrong", "assumptions", "metric", "requires", "stand_in",
         "inputs", "expression", "line", "also"}


def load_claims(path: Path) -> list[Claim]:
    return load_registry(path).claims


def load_registry(path: Path) -> Registry:
    """The registry, validated: every problem is one sentence naming the claim and the key."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path} does not exist") from None
    except yaml.YAMLError as error:
        raise HarnessError(f"{path} is not valid YAML: {error}") from None
    document = document or {}
    entries = document.get("claims")
    if not isinstance(entries, list) or not entries:
        raise HarnessError(f"{path}: `claims` must be a non-empty list")
    findings = _findings(path, document.get("findings") or [])
    claims, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"{path}: claims[{i}]" + (f" ({entry.get('id')})" if isinstance(entry, dict) else "")
        try:
            claim = _claim(entry, findings)
        except HarnessError as error:
            raise HarnessError(f"{where}: {error}") from None
        if claim.id in seen:
            raise HarnessError(f"{where}: id {claim.id!r} is used twice")
        seen.add(claim.id)
        claims.append(claim)
    for finding in findings.values():
        if finding.lead and not any(c.id == finding.lead and c.group == finding.id for c in claims):
            raise HarnessError(f"{path}: finding {finding.id}'s lead {finding.lead!r} is not one of its claims")
    extra = {k: v for k, v in document.items() if k not in ("claims", "findings", "version")}
    return Registry(claims, findings, extra)


def _findings(path: Path, entries: list[Any]) -> dict[str, Finding]:
    out = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"id", "title", "severity"} <= set(entry):
            raise HarnessError(f"{path}: findings[{i}] must be a mapping with id, title and severity")
        if entry["severity"] not in SEVERITIES:
            raise HarnessError(f"{path}: findings[{i}] ({entry['id']}): severity must be one of {', '.join(SEVERITIES)}")
        out[entry["id"]] = Finding(entry["id"], entry["title"], entry["severity"], str(entry.get("lead", "")))
    return out


def _claim(entry: Any, findings: dict[str, Finding]) -> Claim:  # noqa: C901 -- one check per registry key, each with its own one-sentence error
    if not isinstance(entry, dict):
        raise HarnessError("must be a mapping")
    unknown = set(entry) - _KEYS
    if unknown:
        raise HarnessError(f"has unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("id", "section", "source", "reading", "check"):
        if not entry.get(key):
            raise HarnessError(f"has no `{key}`")
    check = entry["check"]
    if check not in ("measured", "arithmetic", "methodology"):
        raise HarnessError(f"check = {check!r} must be measured, arithmetic or methodology")
    for key in ("tolerance", "relative"):
        number = entry.get(key, 0)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise HarnessError(f"{key} = {number!r} must be a number >= 0")
    provenance = entry.get("provenance", "measurement" if check == "measured" else "writeup")
    if provenance not in PROVENANCES:
        raise HarnessError(f"provenance = {provenance!r} must be one of {', '.join(PROVENANCES)}")
    if (check == "measured") != (provenance == "measurement"):
        raise HarnessError("a measured claim (and only a measured claim) has provenance `measurement`")
    finding = entry.get("finding", "")
    if finding and finding not in findings:
        raise HarnessError(f"finding {finding!r} is not declared under `findings`")
    severity = entry.get("severity", "material")
    if severity not in SEVERITIES:
        raise HarnessError(f"severity = {severity!r} must be one of {', '.join(SEVERITIES)}")
    direction = entry.get("direction", "two_sided")
    if direction not in ("two_sided", "at_least"):
        raise HarnessError(f"direction = {direction!r} must be two_sided or at_least")
    metric = entry.get("metric") or ()
    metric = (metric,) if isinstance(metric, str) else tuple(metric)
    requires = tuple(entry.get("requires") or ())
    for requirement in requires:
        if requirement not in REQUIREMENTS:
            raise HarnessError(f"requires {requirement!r}; known: {', '.join(REQUIREMENTS)}")
    inputs = dict(entry.get("inputs") or {})
    if check == "measured":
        if not metric:
            raise HarnessError("a measured claim needs `metric`")
    elif not entry.get("expression"):
        raise HarnessError(f"an {check} claim needs `expression`")
    claim = Claim(
        id=str(entry["id"]), section=str(entry["section"]), source=str(entry["source"]), reading=str(entry["reading"]),
        check=check, value=entry.get("value", 1 if check == "methodology" else None), unit=str(entry.get("unit", "")),
        tolerance=float(entry.get("tolerance", 0)), relative=float(entry.get("relative", 0)), direction=direction,
        provenance=provenance, severity=findings[finding].severity if finding else severity, finding=finding,
        why=str(entry.get("why", "")), note=str(entry.get("note", "")), wrong=str(entry.get("wrong", "")),
        assumptions=tuple(str(a) for a in entry.get("assumptions") or ()), metric=metric, requires=requires,
        stand_in=entry.get("stand_in"), inputs=inputs, expression=entry.get("expression"), line=entry.get("line"),
        also=tuple(str(q) for q in entry.get("also") or ()))
    if check != "methodology":
        claim.band  # noqa: B018  (validates `value`)
    if check != "measured":
        _validate_expression(claim)
    return claim


def _validate_expression(claim: Claim) -> None:
    """The expression parses, computes over every admissible input, and gives the kind of result its check needs."""
    env = {name: printed_interval(figure) for name, figure in claim.inputs.items()}
    body = parse(claim.expression or "", env).body
    value_range(claim.expression or "", env)  # raises on division by zero, domain errors, huge powers
    is_condition = isinstance(body, (ast.Compare, ast.BoolOp)) or (isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.Not))
    if claim.check == "methodology" and not is_condition:
        raise HarnessError(f"a methodology expression must be a condition (a comparison), not {claim.expression!r}")
    if claim.check == "arithmetic" and is_condition:
        raise HarnessError(f"an arithmetic expression must give a number, not a condition: {claim.expression!r}")


def locate(claims: list[Claim], writeup: list[str]) -> list[Claim]:
    """Each claim with the write-up line its quote is on (the first line holding the quote's first line;
    a claim may pin ``line`` when the quote occurs more than once). A quote not in the write-up is an error."""
    from dataclasses import replace

    out = []
    for claim in claims:
        lines = lines_of(claim.source, writeup)
        if not lines:
            raise HarnessError(f"claim {claim.id}: its source {claim.source.splitlines()[0].strip()!r} is not in the write-up")
        if claim.line is not None and claim.line not in lines:
            raise HarnessError(f"claim {claim.id}: its source is not on line {claim.line} (found on {lines})")
        for quote in claim.also:
            if not lines_of(quote, writeup):
                raise HarnessError(f"claim {claim.id}: its `also` quote {quote!r} is not in the write-up")
        out.append(replace(claim, line=claim.line or lines[0]))
    return out


def covered_lines(claims: list[Claim], writeup: list[str]) -> dict[int, list[str]]:
    """Write-up line -> the ids of the claims that quote it (``source`` on its line, and every ``also`` quote)."""
    out: dict[int, list[str]] = {}
    for claim in claims:
        lines = {claim.line} | {line for quote in claim.also for line in lines_of(quote, writeup)}
        for line in sorted(x for x in lines if x):
            out.setdefault(line, []).append(claim.id)
    return out


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
    if _finite(low) and _finite(high):
        return float(low), float(high)
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _status_of(bundle: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    parent = dotted.rpartition(".")[0]
    node = lookup(bundle, parent) if parent else None
    return node if isinstance(node, dict) and "status" in node else None


# --------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Verdict:
    claim: Claim
    verdict: str
    rule: str  # the rule that produced the verdict, in words, with the numbers
    measured: float | bool | None = None
    interval: tuple[float, float] | None = None
    stand_in: dict[str, Any] | None = None

    @property
    def holds(self) -> bool | None:
        """For methodology rows: whether the condition holds (None when undecided)."""
        if self.verdict in (REPRODUCED, EXCEEDS):
            return True
        return False if self.verdict in CONTRADICTED_BY.values() else None

    def as_dict(self) -> dict[str, Any]:
        c = self.claim
        band = c.band if c.check != "methodology" else None
        return {"id": c.id, "section": c.section, "line": c.line, "source": c.source, "reading": c.reading,
                "check": c.check, "provenance": c.provenance, "severity": c.severity, "finding": c.group,
                "claimed": None if c.check == "methodology" else c.value,
                "band_low": band[0] if band else None, "band_high": band[1] if band else None,
                "direction": c.direction, "unit": "" if c.check == "methodology" else c.unit,
                "verdict": self.verdict, "rule": self.rule, "holds": self.holds if c.check == "methodology" else None,
                "measured": None if c.check == "methodology" else self.measured,
                "ci_low": self.interval[0] if self.interval else None,
                "ci_high": self.interval[1] if self.interval else None, "metric": ", ".join(c.metric) or None,
                "stand_in": self.stand_in, "why": c.why, "note": c.note, "assumptions": list(c.assumptions),
                "wrong": self.what_is_wrong}

    @property
    def what_is_wrong(self) -> str | None:
        """For a contradicted or not reproduced claim, what is wrong in one sentence with its numbers
        ("1 - 423 / 60635 = 99.302%, not the printed 99.38% (which needs 99.375% to 99.385%)"); else None."""
        c = self.claim
        if self.verdict == NOT_REPRODUCED and self.measured is not None:
            measured = _as_unit(self.measured, c.unit) + (f" [{_as_unit(self.interval[0], c.unit)}, "
                                                         f"{_as_unit(self.interval[1], c.unit)}]" if self.interval else "")
            return f"this run measured {measured}, outside the claimed {_plain(c)}{_needs(c)}"
        if self.verdict not in CONTRADICTED_BY.values():
            return None
        if c.check == "methodology":
            return c.wrong or f"{c.reading}: no, {with_figures(c)} does not hold"
        derived = _as_unit(self.measured, c.unit) if self.interval is None else (
            f"{_as_unit(self.interval[0], c.unit)} to {_as_unit(self.interval[1], c.unit)} over the printed inputs' rounding")
        arithmetic = with_figures(c)
        if len(arithmetic) > 90:  # too long for a sentence: the claims table shows it whole
            return f"{c.id}'s arithmetic (claims table) gives {derived}, not the printed {_plain(c)}{_needs(c)}"
        return f"{arithmetic} = {derived}, not the printed {_plain(c)}{_needs(c)}"


def judge(claim: Claim, bundle: dict[str, Any], context: dict[str, Any]) -> Verdict:
    """The verdict of one claim on the evidence in ``bundle`` (see the module docstring for the rules).

    ``context`` says what this run had: ``data_source``, ``profile`` and ``cuda`` (bool)."""
    if claim.check == "measured":
        return _judge_measured(claim, bundle, context)
    env = {name: printed_interval(figure) for name, figure in claim.inputs.items()}
    span = value_range(claim.expression or "", env)
    with_inputs = f"with {_inputs(claim)}" if claim.inputs else ""
    if claim.check == "methodology":
        return _judge_condition(claim, span, with_inputs)
    low, high = claim.band
    slack = _EPS * max(1.0, abs(low), abs(high))
    derived = _fmt_range(span.attained)
    band = f"the claimed {_printed(claim)} = [{_fmt(low)}, {_fmt(high)}]"
    if span.attained[0] <= high + slack and span.attained[1] >= low - slack:
        verdict = REPRODUCED
        rule = f"{claim.expression} = {derived} {with_inputs}; it meets {band}"
    elif span.outer[1] < low - slack or span.outer[0] > high + slack:
        verdict = CONTRADICTED_BY[claim.provenance]
        rule = f"{claim.expression} = {derived} {with_inputs}; no admissible inputs reach {band}"
    else:
        verdict = INCONCLUSIVE
        rule = f"{claim.expression} = {derived} (bounds {_fmt_range(span.outer)}) {with_inputs}; rounding leaves {band} open"
    value = (span.attained[0] + span.attained[1]) / 2
    return Verdict(claim, verdict, rule.replace("  ", " "), measured=value,
                   interval=None if span.exact else span.attained)


def _judge_condition(claim: Claim, span: Any, with_inputs: str) -> Verdict:
    if span.attained[1] >= 1:
        qualifier = "" if span.attained[0] >= 1 else " for some values the printed figures allow"
        return Verdict(claim, REPRODUCED, f"{claim.expression} holds{qualifier} {with_inputs}".strip(), measured=True)
    if span.outer[1] < 1:
        qualifier = "" if span.exact else " for every value the printed figures allow"
        return Verdict(claim, CONTRADICTED_BY[claim.provenance],
                       f"{claim.expression} does not hold{qualifier} {with_inputs}".strip(), measured=False)
    return Verdict(claim, INCONCLUSIVE, f"{claim.expression} is undecided within rounding {with_inputs}".strip())


def _judge_measured(claim: Claim, bundle: dict[str, Any], context: dict[str, Any]) -> Verdict:
    missing = [r for r in claim.requires if not _has(r, context)]
    if missing:
        why = "; ".join(REQUIREMENTS[r].format(**{"profile": "unknown", "data_source": "unknown", **context})
                        for r in missing)
        verdict = NOT_COMPARABLE if missing == ["paper_scale"] else NOT_TESTABLE
        return Verdict(claim, verdict, why, stand_in=_stand_in(_stand_in_path(claim, bundle), bundle))
    verdicts = [_judge_metric(claim, metric, bundle) for metric in claim.metric]
    if len(verdicts) == 1:
        return verdicts[0]
    kinds = {v.verdict for v in verdicts}
    rule = "; ".join(f"{metric}: {v.rule}" for metric, v in zip(claim.metric, verdicts, strict=True))
    if len(kinds) == 1:
        return Verdict(claim, verdicts[0].verdict, rule, verdicts[0].measured, verdicts[0].interval, verdicts[0].stand_in)
    return Verdict(claim, INCONCLUSIVE, f"the measurements the claim covers disagree: {rule}",
                   verdicts[0].measured, verdicts[0].interval)


def _judge_metric(claim: Claim, metric: str, bundle: dict[str, Any]) -> Verdict:
    status = _status_of(bundle, metric)
    if status is not None and status.get("status") == NOT_TESTABLE:
        return Verdict(claim, NOT_TESTABLE, status.get("why", "the benchmark could not run this arm here"),
                       stand_in=_stand_in(_stand_in_path(claim, bundle, metric), bundle))
    raw = lookup(bundle, metric)
    if isinstance(raw, float) and not math.isfinite(raw):
        return Verdict(claim, INCONCLUSIVE, f"metric {metric} is {raw} (NaN or infinite) in this run")
    if not _finite(raw):
        not_run = lookup(bundle, metric.partition(".")[0] + ".not_run")  # the stage that writes it said why not
        if not_run:
            return Verdict(claim, NOT_TESTABLE, f"not run: {not_run}")
        return Verdict(claim, INCONCLUSIVE, f"metric {metric} was not produced by this run",
                       stand_in=_stand_in(claim.stand_in, bundle))
    value = float(raw)
    interval = interval_of(bundle, metric)
    low, high = interval if interval else (value, value)
    band_low, band_high = claim.band
    slack = _EPS * max(1.0, abs(band_high))
    what = f"[{_fmt(low)}, {_fmt(high)}]" if interval else f"{_fmt(value)} (no interval)"
    if claim.direction == "at_least":
        band = f"at least {_fmt(band_low)} (claimed {_printed(claim)})"
        if low >= band_low - slack:
            beyond = low > band_high + slack
            return Verdict(claim, EXCEEDS if beyond else REPRODUCED,
                           f"measured {what} is {band}" + (f", and above the claimed {_fmt(band_high)}" if beyond else ""),
                           measured=value, interval=interval)
        verdict = NOT_REPRODUCED if high < band_low - slack else INCONCLUSIVE
        return Verdict(claim, verdict, f"measured {what} {'falls short of' if verdict == NOT_REPRODUCED else 'straddles'} {band}",
                       measured=value, interval=interval)
    band = f"the claimed {_printed(claim)} = [{_fmt(band_low)}, {_fmt(band_high)}]"
    if low >= band_low - slack and high <= band_high + slack:
        verdict, rule = REPRODUCED, f"measured {what} lies inside {band}"
    elif high < band_low - slack or low > band_high + slack:
        verdict, rule = NOT_REPRODUCED, f"measured {what} lies outside {band}"
    else:
        verdict, rule = INCONCLUSIVE, f"measured {what} straddles an edge of {band}"
    return Verdict(claim, verdict, rule, measured=value, interval=interval)


def _stand_in_path(claim: Claim, bundle: dict[str, Any], metric: str | None = None) -> str | None:
    """The claim's own stand-in, else the one the benchmark named beside the metric's arm
    (`<group>.<arm>.<leaf>` -> `<group>.<stand_in arm>.<leaf>`)."""
    if claim.stand_in:
        return claim.stand_in
    metric = metric or (claim.metric[0] if claim.metric else "")
    status = _status_of(bundle, metric)
    if status and status.get("stand_in"):
        head, _, leaf = metric.rpartition(".")
        return f"{head.rpartition('.')[0]}.{status['stand_in']}.{leaf}"
    return None


def _has(requirement: str, context: dict[str, Any]) -> bool:
    if requirement == "cuda":
        return bool(context.get("cuda"))
    if requirement == "ucf_crime":
        return context.get("data_source") == "ucf_crime_frames"
    if requirement == "paper_scale":
        return bool(context.get("comparable_scale")) or (
            context.get("data_source") == "ucf_crime_frames" and context.get("profile") == "paper")
    return False


def _stand_in(path: str | None, bundle: dict[str, Any]) -> dict[str, Any] | None:
    if not path:
        return None
    raw = lookup(bundle, path)
    interval = interval_of(bundle, path)
    return {"metric": path, "value": float(raw) if _finite(raw) else None,
            "nan": isinstance(raw, float) and not math.isfinite(raw),
            "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None}


def _inputs(claim: Claim) -> str:
    return ", ".join(f"{k} = {_figure(v)}" for k, v in claim.inputs.items())


def _figure(value: Any) -> str:
    """A printed figure as printed ("99.2%"), a range as low-high, an exact number formatted."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "-".join(_figure(v) for v in value)
    return _fmt(value)


def _printed(claim: Claim) -> str:
    return f"{_figure(claim.value)} {claim.unit}".strip()


def with_figures(claim: Claim) -> str:
    """The claim's expression with each input's printed figure in place of its name ("1 - 423 / 60635")."""
    def figure(match: re.Match) -> str:
        name = match.group()
        return _figure(claim.inputs[name]).strip('"') if name in claim.inputs else name

    return re.sub(r"\b[A-Za-z_]\w*\b", figure, claim.expression or "")


def _as_unit(value: float | bool | None, unit: str) -> str:
    """A derived or measured value in the claim's unit: fractions as percentages."""
    if value is None or isinstance(value, bool):
        return str(value)
    return f"{value * 100:.3f}%" if unit == "fraction" else _fmt(value)


def _plain(claim: Claim) -> str:
    """The claimed figure as printed, with its unit unless the figure shows it ("99.38%", "0.2 seconds")."""
    figure = _figure(claim.value).replace('"', "")
    shown = claim.unit in ("fraction", "x", "") or figure.endswith(("%", "×", "x"))
    return figure if shown else f"{figure} {claim.unit.replace('_', ' ')}"


def _needs(claim: Claim) -> str:
    """What the printed figure allows, in parentheses (nothing for an exact figure)."""
    low, high = claim.band
    if claim.direction == "at_least":
        return f" (which needs at least {_as_unit(low, claim.unit)})"
    if high - low <= _EPS * max(1.0, abs(high)):
        return ""
    return f" (which needs {_as_unit(low, claim.unit)} to {_as_unit(high, claim.unit)})"


def _fmt_range(span: Interval) -> str:
    return _fmt(span[0]) if abs(span[1] - span[0]) <= _EPS * max(1.0, abs(span[0])) else f"[{_fmt(span[0])}, {_fmt(span[1])}]"


def _fmt(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.6g}"
    return f"{x:.4g}"


def judge_all(claims: list[Claim], bundle: dict[str, Any], context: dict[str, Any]) -> list[Verdict]:
    return [judge(claim, bundle, context) for claim in claims]


def tally(verdicts: list[Verdict]) -> dict[str, int]:
    """Claims by verdict (every verdict name, zero included)."""
    return {name: sum(1 for v in verdicts if v.verdict == name) for name in VERDICTS}


def findings_of(verdicts: list[Verdict], findings: dict[str, Finding]) -> list[dict[str, Any]]:
    """One entry per finding: its claims, its severity and its verdict (the most decisive of its claims')."""
    order = {name: i for i, name in enumerate(VERDICTS)}
    groups: dict[str, list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault(v.claim.group, []).append(v)
    out = []
    for key, members in groups.items():
        lead = min(members, key=lambda v: order[v.verdict])
        declared = findings.get(key)
        told = next((v for v in members if declared and v.claim.id == declared.lead and v.what_is_wrong), lead)
        out.append({"id": key, "title": declared.title if declared else (lead.what_is_wrong or lead.claim.reading),
                    "wrong": told.what_is_wrong if declared else None,
                    "severity": declared.severity if declared else lead.claim.severity, "verdict": lead.verdict,
                    "claims": [v.claim.id for v in members], "section": lead.claim.section, "line": lead.claim.line})
    return sorted(out, key=lambda f: (order[f["verdict"]], SEVERITIES.index(f["severity"])))


def finding_tally(findings: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Findings by verdict and severity: {verdict: {"material": n, "minor": m}} for every verdict with any."""
    out: dict[str, dict[str, int]] = {}
    for name in VERDICTS:
        counts = {s: sum(1 for f in findings if f["verdict"] == name and f["severity"] == s) for s in SEVERITIES}
        if sum(counts.values()):
            out[name] = counts
    return out
