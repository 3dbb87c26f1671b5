"""Which of the write-up's figures the registry checks, and why the others are left alone.

``scan`` finds every line of the write-up that prints a number with a unit (a percentage, a speed-up,
a time, a size, a count of samples, epochs, parameters...). A line is *covered* when a claim quotes it
(its ``source`` or one of its ``also`` quotes) or a figure of the joint feasibility check does; otherwise
the registry's ``coverage`` section must say why it is left alone: an ``illustration`` (a worked example
whose numbers are not results), a ``definition`` (a setting the write-up chose, true by construction),
or ``not checkable`` (a figure that depends on things the write-up does not give). A line that is none
of these is *uncovered*, and the tests fail on it.
"""

from __future__ import annotations

import re
from typing import Any

from harness.errors import HarnessError

REASONS = ("illustration", "definition", "not checkable")
_UNIT = (r"(?:%|×|x\b|ms\b|s\b|sec\b|min\b|minutes?|hours?|h\b|days?|MB|GB|it/s|epochs?|samples|sequences|errors|"
         r"params|parameters|M\b|px|frames?|images?|classes|videos|layers|heads|bytes|batch(?:es)?|processes|"
         r"checkpoints|steps|AUC)")
NUMBER_WITH_UNIT = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s*" + _UNIT)


def scan(lines: list[str]) -> list[int]:
    """1-based numbers of the lines that print a number with a unit."""
    return [i + 1 for i, text in enumerate(lines) if NUMBER_WITH_UNIT.search(text)]


def lines_of(quote: str, lines: list[str]) -> list[int]:
    """The lines holding ``quote`` (its first line, stripped)."""
    first = quote.splitlines()[0].strip() if quote.strip() else ""
    return [i + 1 for i, text in enumerate(lines) if first and first in text]


def exclusions(entries: list[dict[str, Any]], lines: list[str]) -> dict[int, dict[str, str]]:
    """Line -> {reason, why} from the registry's ``coverage`` section (each entry a ``quote`` or ``lines: [a, b]``)."""
    out: dict[int, dict[str, str]] = {}
    for i, entry in enumerate(entries or []):
        where = f"coverage[{i}]"
        if not isinstance(entry, dict) or entry.get("reason") not in REASONS or not entry.get("why"):
            raise HarnessError(f"{where} needs a reason ({', '.join(REASONS)}) and a why")
        if "quote" in entry:
            found = lines_of(str(entry["quote"]), lines)
            if not found:
                raise HarnessError(f"{where}: quote {entry['quote']!r} is not in the write-up")
        elif isinstance(entry.get("lines"), list) and len(entry["lines"]) == 2:
            found = list(range(int(entry["lines"][0]), int(entry["lines"][1]) + 1))
        else:
            raise HarnessError(f"{where} needs a `quote` or `lines: [first, last]`")
        for line in found:
            out.setdefault(line, {"reason": entry["reason"], "why": entry["why"]})
    return out


def coverage(lines: list[str], covered_by: dict[int, list[str]], excluded: dict[int, dict[str, str]]) -> list[dict[str, Any]]:
    """One row per line with a number and a unit: covered (by which checks), left alone (why) or uncovered."""
    rows = []
    for line in scan(lines):
        row = {"line": line, "text": lines[line - 1].strip(), "by": covered_by.get(line, []), "reason": "", "why": ""}
        if row["by"]:
            row["status"] = "covered"
        elif line in excluded:
            row.update(status="left alone", **excluded[line])
        else:
            row["status"] = "uncovered"
        rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"lines": len(rows), "covered": 0, "uncovered": 0, **{reason: 0 for reason in REASONS}}
    for row in rows:
        counts[row["reason"] if row["status"] == "left alone" else row["status"]] += 1
    return counts
