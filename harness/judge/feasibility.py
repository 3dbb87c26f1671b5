"""Can a write-up's printed classification figures all hold at once? An exact integer program says.

Every figure a write-up prints about one evaluation set (supports, accuracy, error counts, error
breakdowns, per-class precision/recall/F1, macro and weighted averages) is a constraint on the same
unknown K x K integer confusion matrix C (C[i, j] = samples of true class i predicted as j). The
figures are consistent exactly when some non-negative integer C satisfies all of them, which
``scipy.optimize.milp`` (HiGHS) decides.

Method
------
- A printed figure is an interval: "99.38%" is [0.99375, 0.99385], "1.14" is [1.135, 1.145]; an
  int, or a string of digits without a decimal point or a percent sign ("60,635"), is an exact count
  (counts are not rounded, and for an integer quantity [79.5, 80.5] and 80 say the same thing). Ends
  are closed, which is lenient to the write-up: a value printed as "99.38%" may have been 0.99375.
- Every ratio of counts with a fixed figure is linear once multiplied out: accuracy T/N in [lo, hi] is
  lo*N <= T <= hi*N, with N = sum(C) and T = trace(C); recall, precision and F1 of a class likewise
  (F1 = 2 C_ii / (R_i + P_i), R_i its row sum, P_i its column sum). These kinds are exact.
- A mean of per-class ratios (macro precision/recall/F1) or a support-weighted mean (weighted F1) is
  not linear, and is *relaxed*: each class's ratio is bounded by a box found by interval reasoning
  over the same figures (its own printed figure when there is one; otherwise its numerator's box over
  its denominator's box, from supports, the total, the error count and the other ratio figures), and
  the printed mean must be reachable from the boxes. Macro recall over classes whose support is fixed
  is exact (C_ii / R_i is linear then); weighted F1 becomes sum f_lo,i R_i <= hi N and
  sum f_hi,i R_i >= lo N, linear in C. Infeasible still proves a contradiction; feasible only means
  none was found, unless the witness matrix also satisfies the averaged figures when checked exactly
  (this module checks, and says which). Averaging assumes every class has support >= 1 (and, for
  macro precision, is predicted at least once), as the averaged ratio is undefined otherwise; that
  assumption is part of the model whenever such a figure is.
- Why not McCormick envelopes of m_i * D_i = numerator_i, which are tighter: with them, HiGHS
  (scipy 1.17) called infeasible random subsets of a table made from a real matrix, whose true point
  satisfies every row to 1e-9: with presolve on for some subsets, with presolve off for others. A
  checker that invents contradictions is worse than a looser one, so the model is kept all-integer
  over C with no continuous auxiliaries; of 600 random subsets of tables from three matrices, none
  was then called infeasible (595 proven feasible, 5 undecided at the time limit).
- A printed recall, precision or F1 is a window about 1e-4 wide on a ratio of counts, which only some
  integer pairs fit; HiGHS proves most subsets feasible or infeasible in milliseconds, but a few take
  seconds, and a solve stopped by the time limit is *undecided*: never reported as infeasible, and a
  conflict whose minimality hinged on one says so.
- When the figures are infeasible, every conflict of at most ``SMALL`` (3) figures is found first by trying
  each subset in order of size (skipping supersets of conflicts found and subsets of sets already decided
  feasible; each small feasible set is grown, figure by figure, into a maximal feasible one, so that one
  solve stands for many subsets). Each conflict is then told as arithmetic (``_explain``): for its latest
  figure that counts something linear in the matrix, the minimum and maximum of that count over the other
  figures (HiGHS with no optimality gap), against the printed value; for a ratio whose denominator the others
  fix, the division.
- Larger conflicts: a deletion filter walks the figures in the caller's order, drops each one
  whose removal leaves the rest infeasible, and what remains is an irreducible infeasible subset (a
  minimal conflict) made of the latest figures it can be: list headline figures last. Further conflicts
  come from removing one member of the last conflict (the latest in list order whose removal keeps
  the rest infeasible) and filtering again, while a time budget lasts. Each subset is decided by the
  same procedure, so conflicts are minimal with respect to it (for averaged figures: with respect to
  the relaxation).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, hstack, vstack

from harness.errors import HarnessError

ABNORMAL = "abnormal"           # the group name: every class except ``normal``
DEFAULT_N_MAX = 10**7           # upper bound on the total when no ``total`` figure gives one
TIME_LIMIT_S = 20.0             # per MILP; most K=14 solves take milliseconds, a few take seconds
TIME_BUDGET_S = 120.0           # default budget for the search for further conflicts after the first
SMALL = 3                       # every conflict of at most this many figures is searched for exhaustively
SMALL_BUDGET_S = 90.0           # ... within this time (the write-up's figures need about 20 s)
EXPLAIN_TIME_LIMIT_S = 2.0      # per bound in a conflict's sentence; past it, another figure is tried
EXPLAIN_BUDGET_S = 6.0          # per conflict's sentence, all figures tried
MARGIN = 1e-6                   # printed ratio intervals are widened by this to prove infeasible, narrowed to find
                                # a witness: 10 times the solvers' feasibility tolerances (SCIP_FEASTOL), and a
                                # fiftieth of the half-unit of a figure printed to 0.01%
SCIP_FEASTOL = 1e-7             # SCIP's feasibility tolerance (default 1e-6) for the exact model of averaged figures
WITNESS_BANDS = (0.0, 0.01, 0.05)  # how far from an averaged figure each free class's ratio may start (see
                                   # _decide_banded), tried in turn
WITNESS_CLASS_SIZE = 2000       # _shaped_start: every class at least this large (or as large as its support allows)
SHAPE_BANDS = (0.005, 0.02, 0.1, 0.3)  # ... with each class's ratio this near each averaged figure, tried in turn
REFINE_RHO = 0.3                # _refine's first trust region: each cell within this share of its value (of
REFINE_FLOOR = 50               # ... at least this many counts), halved after each step that does not help
REFINE_STEPS = 15               # ... steps at most
REFINE_GAP = 0.5                # ... each step's MILP stops within this relative gap of its best shortfall
WITNESS_TIME_LIMIT_S = 3.0      # per witness-search MILP (a search that stops proves nothing either way)
WITNESS_N_CAP_NEAR = 5_000_000  # ... and the search near ratio targets, where every class must hit two narrow windows
WITNESS_N_CAP = 200_000         # witness searches look among evaluation sets of at most this many samples (or the
                                # figures' own lower bound on the total, if larger)
EXACT_BUDGET_S = 240.0          # a guard on the exact pass over small subsets with averaged figures (the write-up: about 60 s)
EXACT_TIME_LIMIT_S = 3.0       # per SCIP solve; past it the subset is undecided
WARM_STARTS = 3                 # ... and a subset its quick search misses is tried from this many witnesses so far
GROW_MISSES = 4                 # a witness of the exact pass is grown until this many figures could not be added
RATIO_SLACK = 1e-9              # float slack on ratio bounds, so an end exactly on a printed bound stays inside
_ROUND_SLACK = 1e-6             # slack when rounding LP bounds of integer quantities to integers

FEASIBLE, INFEASIBLE, UNDECIDED = "feasible", "infeasible", "undecided"

COUNT_KINDS = ("total", "support", "errors", "cell", "cell_range", "cell_max", "block_sum")
RATIO_KINDS = ("accuracy", "error_rate", "recall", "precision", "f1", "f1_min")
RELAXED_KINDS = ("macro_precision", "macro_recall", "macro_f1", "weighted_f1")
KINDS = COUNT_KINDS + RATIO_KINDS + RELAXED_KINDS
_PER_CLASS = ("support", "recall", "precision", "f1")
_NEEDS_VALUE = ("total", "support", "accuracy", "errors", "error_rate", "cell", "recall", "precision", "f1",
                *RELAXED_KINDS)
_CELL_KINDS = ("cell", "cell_range", "cell_max", "block_sum")
_METRIC_OF = {"macro_precision": "precision", "macro_recall": "recall", "macro_f1": "f1", "weighted_f1": "f1"}

_PRINTED = re.compile(r"^(\d+(?:,\d{3})*|\d*)(?:\.(\d+))?\s*(%)?$")

Expr = dict[int, float]  # a linear expression: variable index -> coefficient
Interval = tuple[float, float]


@dataclass(frozen=True)
class Figure:
    id: str
    kind: str
    value: str | int | float | None = None
    cls: str | None = None
    source: str | None = None
    target: str | None = None
    low: float | None = None
    high: float | None = None
    quote: str = ""


@dataclass(frozen=True)
class Result:
    feasible: bool
    conflicts: list[list[str]]
    matrix: list[list[int]] | None
    note: str
    decided: bool = True   # False when HiGHS stopped before deciding the full set (feasible False, conflicts [])
    explanations: list[str] = field(default_factory=list)  # one sentence of arithmetic per conflict
    small_complete: bool = True  # every subset of at most SMALL figures was decided (none undecided)
    undecided: list[list[str]] = field(default_factory=list)  # small subsets the exact model could not settle in time
    exact_complete: bool = True  # every small subset with an averaged figure was settled on the exact model


def printed_interval(text: str | int | float) -> Interval:
    """The closed interval a printed figure stands for: its value plus or minus half a unit of its last digit.

    An int, or a digit string without a decimal point or percent sign, is an exact count; a float is read
    as its shortest printed form (``0.9938`` as "0.9938"); a percent is returned as a fraction.
    """
    lo, hi = _printed_exact(text)
    return float(lo), float(hi)


def _printed_exact(text: str | int | float) -> tuple[Fraction, Fraction]:
    """printed_interval's ends as exact fractions (what a witness matrix is checked against)."""
    if isinstance(text, bool):
        raise HarnessError(f"printed figure {text!r} is a boolean, not a number.")
    if isinstance(text, int):
        return Fraction(text), Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise HarnessError(f"printed figure {text!r} is not a finite number.")
        text = repr(text)
    match = _PRINTED.match(str(text).strip())
    if match is None or not (match.group(1) or match.group(2)):
        raise HarnessError(f"printed figure {text!r} is not a number like '99.38%', '1.14' or '60,635'.")
    whole, decimals, percent = match.group(1).replace(",", "") or "0", match.group(2), match.group(3)
    try:
        value = Decimal(f"{whole}.{decimals}" if decimals else whole)
    except InvalidOperation as e:  # the pattern admits only digits, so this is a guard, not a path
        raise HarnessError(f"printed figure {text!r} is not a number.") from e
    if decimals is None and not percent:
        return Fraction(value), Fraction(value)
    half = Decimal(5) * Decimal(10) ** -(len(decimals or "") + 1)
    scale = Fraction(100) if percent else Fraction(1)
    return Fraction(value - half) / scale, Fraction(value + half) / scale


# --- validation -----------------------------------------------------------------------------------------

def _validate(figures: list[Figure], classes: list[str], normal: str) -> None:
    """Raise a HarnessError naming the first figure (or argument) the model cannot take."""
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise HarnessError(f"classes must be at least two distinct names, got {classes!r}.")
    if ABNORMAL in classes:
        raise HarnessError(f"no class may be named {ABNORMAL!r}: that name stands for every class except normal.")
    if normal not in classes:
        raise HarnessError(f"normal class {normal!r} is not one of the classes.")
    seen: set[str] = set()
    for fig in figures:
        if fig.id in seen:
            raise HarnessError(f"figure id {fig.id!r} appears twice; conflicts are reported by id.")
        seen.add(fig.id)
        _validate_one(fig, classes)


def _validate_one(fig: Figure, classes: list[str]) -> None:
    if fig.kind not in KINDS:
        raise HarnessError(f"figure {fig.id!r} has unknown kind {fig.kind!r} (known: {', '.join(KINDS)}).")
    if fig.kind in _NEEDS_VALUE and fig.value is None:
        raise HarnessError(f"figure {fig.id!r} ({fig.kind}) has no value.")
    if fig.value is not None:
        try:
            printed_interval(fig.value)
        except HarnessError as e:
            raise HarnessError(f"figure {fig.id!r}: {e}") from e
    if fig.kind in _PER_CLASS and fig.cls not in classes:
        raise HarnessError(f"figure {fig.id!r} ({fig.kind}) names class {fig.cls!r}, which is not one of the classes.")
    if fig.kind in ("cell_range", "block_sum", "f1_min") and fig.value is None and fig.low is None and fig.high is None:
        raise HarnessError(f"figure {fig.id!r} ({fig.kind}) has no value, low or high.")
    if fig.kind == "f1_min" and fig.value is None and fig.low is None:
        raise HarnessError(f"figure {fig.id!r} (f1_min) has no value or low.")
    if fig.kind in _CELL_KINDS:
        _validate_cells(fig, classes)


def _validate_cells(fig: Figure, classes: list[str]) -> None:
    for end in (fig.source, fig.target):
        if end != ABNORMAL and end not in classes:
            raise HarnessError(f"figure {fig.id!r} ({fig.kind}) names cell end {end!r}, "
                               f"which is neither a class nor {ABNORMAL!r}.")
    if fig.kind == "cell_max" and ABNORMAL in (fig.source, fig.target):
        raise HarnessError(f"figure {fig.id!r} (cell_max) must name one cell, not the {ABNORMAL!r} group.")
    if fig.source == fig.target and fig.source != ABNORMAL:
        raise HarnessError(f"figure {fig.id!r} ({fig.kind}) names the diagonal cell {fig.source!r}; "
                           "only off-diagonal cells are errors.")


# --- the model --------------------------------------------------------------------------------------------

@dataclass
class _Model:
    """A MILP under construction: the K*K integer cells C[i, j] in [0, n_max], and rows lo <= expr <= hi."""

    k: int
    n_max: int
    margin: float = 0.0  # every printed ratio interval widened by this much (negative: narrowed), see MARGIN
    rows: list[tuple[Expr, float, float]] = field(default_factory=list)

    @property
    def n_vars(self) -> int:
        return self.k * self.k  # the cells only: no auxiliary variables (see the module docstring)

    def row(self, expr: Expr, lo: float = -np.inf, hi: float = np.inf) -> None:
        self.rows.append((expr, lo, hi))

    def constraints(self) -> LinearConstraint:
        """The rows as one sparse constraint."""
        data, ri, ci = [], [], []
        for r, (expr, _, _) in enumerate(self.rows):
            ri += [r] * len(expr)
            ci += list(expr)
            data += list(expr.values())
        a = coo_array((data, (ri, ci)), shape=(len(self.rows), self.n_vars)).tocsr()
        return LinearConstraint(a, [r[1] for r in self.rows], [r[2] for r in self.rows])

    # linear expressions over C
    def cell(self, i: int, j: int) -> Expr:
        return {i * self.k + j: 1.0}

    def row_sum(self, i: int) -> Expr:
        return {i * self.k + j: 1.0 for j in range(self.k)}

    def col_sum(self, j: int) -> Expr:
        return {i * self.k + j: 1.0 for i in range(self.k)}

    def total(self) -> Expr:
        return {v: 1.0 for v in range(self.k * self.k)}

    def trace(self) -> Expr:
        return {i * self.k + i: 1.0 for i in range(self.k)}


def _lin(*terms: tuple[float, Expr]) -> Expr:
    """sum of coef * expr over the terms."""
    out: Expr = {}
    for coef, expr in terms:
        for v, c in expr.items():
            out[v] = out.get(v, 0.0) + coef * c
    return out


def _ratio_rows(model: _Model, num: Expr, den: Expr, span: Interval) -> None:
    """lo <= num / den <= hi, multiplied out (den >= 0): num - lo*den >= 0 and num - hi*den <= 0."""
    lo, hi = span[0] - RATIO_SLACK, span[1] + RATIO_SLACK
    model.row(_lin((1.0, num), (-lo, den)), lo=0.0)
    model.row(_lin((1.0, num), (-hi, den)), hi=0.0)


@dataclass
class _Context:
    """What the figures of one subset say about the boxes: total, supports, per-class metric intervals."""

    k: int
    n: Interval
    support: list[Interval]
    metric: dict[str, list[Interval]]   # "precision" / "recall" / "f1" -> per-class interval of the ratio
    need_support: bool                  # an averaged figure: every class has support >= 1
    need_predicted: bool                # macro precision: every class is predicted at least once
    relaxed: list[str]                  # relaxed kinds present
    e_hi: float                         # at most this many off-diagonal samples (errors, error rate, accuracy)
    margin: float = 0.0                 # printed ratio intervals widened by this much (see MARGIN)

    def r_bounds(self, i: int) -> Interval:
        lo = max(self.support[i][0], 1.0 if self.need_support else 0.0)
        others = sum(s[0] for j, s in enumerate(self.support) if j != i)
        return lo, min(self.support[i][1], self.n[1] - others)

    def p_bounds(self, i: int) -> Interval:
        return (1.0 if self.need_predicted else 0.0), self.n[1]


def _span(fig: Figure, margin: float) -> Interval:
    """A printed ratio's interval, widened by ``margin`` at each end (narrowed when it is negative)."""
    lo, hi = printed_interval(fig.value)
    return lo - margin, hi + margin


def _context(figures: list[Figure], index: dict[str, int], margin: float = 0.0) -> _Context:
    k = len(index)
    n_lo, n_hi = 1.0, float(DEFAULT_N_MAX)
    support = [(0.0, float(DEFAULT_N_MAX))] * k
    metric = {m: [(0.0, 1.0)] * k for m in ("precision", "recall", "f1")}
    error_share, e_hi = 1.0, np.inf  # the errors as a share of N, and as a count
    for fig in figures:
        if fig.kind == "total":
            lo, hi = printed_interval(fig.value)
            n_lo, n_hi = max(n_lo, math.ceil(lo)), min(n_hi, math.floor(hi))
        elif fig.kind == "support":
            lo, hi = printed_interval(fig.value)
            i = index[fig.cls]
            support[i] = (max(support[i][0], math.ceil(lo)), min(support[i][1], math.floor(hi)))
        elif fig.kind in ("precision", "recall", "f1"):
            i, (lo, hi) = index[fig.cls], _span(fig, margin)
            old = metric[fig.kind][i]
            metric[fig.kind][i] = (max(old[0], lo - RATIO_SLACK), min(old[1], hi + RATIO_SLACK))
        elif fig.kind == "f1_min":
            lo = _f1_floor(fig) - margin
            metric["f1"] = [(max(a, lo - RATIO_SLACK), b) for a, b in metric["f1"]]
        elif fig.kind == "errors":
            e_hi = min(e_hi, _figure_span(fig)[1])
        elif fig.kind in ("error_rate", "accuracy"):
            lo, hi = _span(fig, margin)
            error_share = min(error_share, hi if fig.kind == "error_rate" else 1.0 - lo)
    support = [(lo, min(hi, n_hi)) for lo, hi in support]
    relaxed = sorted({f.kind for f in figures if f.kind in RELAXED_KINDS})
    return _Context(k=k, n=(n_lo, n_hi), support=support, metric=metric, need_support=bool(relaxed),
                    need_predicted="macro_precision" in relaxed, relaxed=relaxed,
                    e_hi=_floor(min(e_hi, (error_share + RATIO_SLACK) * n_hi, n_hi)), margin=margin)


def _floor(x: float) -> float:
    """Round an upper bound of an integer quantity down, leniently (float noise must not cut a count off)."""
    return float(math.floor(x + _ROUND_SLACK)) if math.isfinite(x) else x


def _ceil(x: float) -> float:
    return float(math.ceil(x - _ROUND_SLACK)) if math.isfinite(x) else x


def _f1_floor(fig: Figure) -> float:
    """The lower end of an "every class above X" figure: the low end of the printed X (lenient: >=)."""
    return printed_interval(fig.value)[0] if fig.value is not None else float(fig.low)


def _figure_span(fig: Figure) -> Interval:
    """The interval of a count figure: its printed value, or [low, high] with open ends unbounded."""
    if fig.value is not None:
        return printed_interval(fig.value)
    return (-np.inf if fig.low is None else float(fig.low)), (np.inf if fig.high is None else float(fig.high))


def _members(end: str, index: dict[str, int], normal: str) -> list[int]:
    return [i for name, i in index.items() if name != normal] if end == ABNORMAL else [index[end]]


def _cells(fig: Figure, index: dict[str, int], normal: str) -> list[tuple[int, int]]:
    """The off-diagonal cells a cell figure names; "abnormal" expands to every abnormal class."""
    return [(i, j) for i in _members(fig.source, index, normal) for j in _members(fig.target, index, normal)
            if i != j]


def _encode(model: _Model, fig: Figure, index: dict[str, int], normal: str) -> None:  # noqa: C901 -- one branch per kind of printed figure
    """Add the rows of one exact (linear) figure."""
    n, t = model.total(), model.trace()
    kind = fig.kind
    if kind in ("total", "errors", "support"):
        lo, hi = _figure_span(fig)
        model.row(_count_expr(model, fig, index), lo=lo, hi=hi)
    elif kind == "accuracy":
        _ratio_rows(model, t, n, _span(fig, model.margin))
    elif kind == "error_rate":
        _ratio_rows(model, _lin((1.0, n), (-1.0, t)), n, _span(fig, model.margin))
    elif kind in ("recall", "precision", "f1"):
        _encode_class_ratio(model, kind, index[fig.cls], _span(fig, model.margin))
    elif kind == "f1_min":
        for i in range(model.k):
            _encode_class_ratio(model, "f1", i, (_f1_floor(fig) - model.margin, np.inf))
    elif kind in ("cell", "cell_range"):
        lo, hi = _figure_span(fig)
        for i, j in _cells(fig, index, normal):
            model.row(model.cell(i, j), lo=lo, hi=hi)
    elif kind == "block_sum":
        lo, hi = _figure_span(fig)
        model.row(_lin(*((1.0, model.cell(i, j)) for i, j in _cells(fig, index, normal))), lo=lo, hi=hi)
    elif kind == "cell_max":
        s, g = index[fig.source], index[fig.target]
        for i in range(model.k):
            for j in range(model.k):
                if i != j and (i, j) != (s, g):
                    model.row(_lin((1.0, model.cell(i, j)), (-1.0, model.cell(s, g))), hi=0.0)
        if fig.value is not None:  # "Most common: Normal -> Fighting (80 errors)" also fixes the cell
            lo, hi = printed_interval(fig.value)
            model.row(model.cell(s, g), lo=lo, hi=hi)


def _count_expr(model: _Model, fig: Figure, index: dict[str, int]) -> Expr:
    if fig.kind == "total":
        return model.total()
    if fig.kind == "errors":
        return _lin((1.0, model.total()), (-1.0, model.trace()))
    return model.row_sum(index[fig.cls])


def _num_den(model: _Model, metric: str, i: int) -> tuple[Expr, Expr]:
    """The numerator and denominator of a class's ratio: C_ii over R_i, P_i, or 2 C_ii over R_i + P_i."""
    c = model.cell(i, i)
    if metric == "recall":
        return c, model.row_sum(i)
    if metric == "precision":
        return c, model.col_sum(i)
    return _lin((2.0, c)), _lin((1.0, model.row_sum(i)), (1.0, model.col_sum(i)))


def _encode_class_ratio(model: _Model, metric: str, i: int, span: Interval) -> None:
    num, den = _num_den(model, metric, i)
    lo, hi = span
    model.row(_lin((1.0, num), (-(lo - RATIO_SLACK), den)), lo=0.0)
    if math.isfinite(hi):
        model.row(_lin((1.0, num), (-(hi + RATIO_SLACK), den)), hi=0.0)
    if lo > 0:  # a positive printed ratio means the class had a correct prediction (else it would read 0)
        model.row(model.cell(i, i), lo=1.0)


@dataclass
class _Boxes:
    """Per class: bounds of R_i, P_i, C_ii, and of its recall, precision and F1 (what the relaxation uses)."""

    r: list[Interval]
    p: list[Interval]
    c: list[Interval]
    m: dict[str, list[Interval]]


def _boxes(ctx: _Context) -> _Boxes:
    """Boxes of R_i, C_ii, P_i and each class ratio, by interval reasoning over the subset's figures.

    R_i: its support, or what the total leaves after the other supports. C_ii: the recall figure times
    R_i, and at least R_i minus all errors. P_i: at least C_ii, at most C_ii plus all errors and at most
    N minus the other classes' diagonals, and C_ii over the precision figure. Each ratio: its figure,
    intersected with numerator box over denominator box.
    """
    k, e_hi = ctx.k, ctx.e_hi
    r = [ctx.r_bounds(i) for i in range(k)]
    c = [(max(0.0, r[i][0] - e_hi, _ceil(ctx.metric["recall"][i][0] * r[i][0])),
          min(r[i][1], _floor(ctx.metric["recall"][i][1] * r[i][1]))) for i in range(k)]
    diag_lo = sum(lo for lo, _ in c)
    p = [_p_box(c[i], ctx.metric["precision"][i], ctx.n[1] - (diag_lo - c[i][0]), e_hi, ctx.need_predicted)
         for i in range(k)]
    m = {metric: [_meet(ctx.metric[metric][i], _ratio_box(metric, r[i], p[i], c[i])) for i in range(k)]
         for metric in ctx.metric}
    return _Boxes(r=r, p=p, c=c, m=m)


def _p_box(c: Interval, precision: Interval, room: float, e_hi: float, predicted: bool) -> Interval:
    lo = max(1.0 if predicted else 0.0, c[0], _ceil(c[0] / precision[1]) if precision[1] > 0 else 0.0)
    hi = min(room, c[1] + e_hi, _floor(c[1] / precision[0]) if precision[0] > 0 else np.inf)
    return lo, hi


def _ratio_box(metric: str, r: Interval, p: Interval, c: Interval) -> Interval:
    """numerator box over denominator box, for recall C/R, precision C/P or F1 2C/(R+P)."""
    (nl, nu) = (2 * c[0], 2 * c[1]) if metric == "f1" else c
    dl, du = {"recall": r, "precision": p}.get(metric, (r[0] + p[0], r[1] + p[1]))
    return ((nl / du - RATIO_SLACK) if du > 0 else 0.0), ((nu / dl + RATIO_SLACK) if dl > 0 else 1.0)


def _meet(a: Interval, b: Interval) -> Interval:
    return max(a[0], b[0], 0.0), min(a[1], b[1], 1.0)


def _mean_row(model: _Model, fig: Figure, ctx: _Context, boxes: _Boxes) -> tuple[Expr, float, float]:
    """A macro figure as lo <= expr <= hi over C: exact for terms with a known denominator, box bounds else.

    Macro recall: a class whose support is fixed contributes C_ii / R_i exactly; any other class's ratio
    contributes only its box, moved to the bounds. Macro precision and F1 have P_i in their denominators,
    which no figure fixes, so they are boxes throughout (expr is empty): the mean of the boxes must meet
    the printed interval.
    """
    lo, hi = _span(fig, ctx.margin)
    k, metric = ctx.k, _METRIC_OF[fig.kind]
    fixed = [i for i in range(k) if metric == "recall" and boxes.r[i][0] == boxes.r[i][1] > 0]
    expr = _lin(*((1.0 / boxes.r[i][0], model.cell(i, i)) for i in fixed))
    rest = [boxes.m[metric][i] for i in range(k) if i not in fixed]
    return (expr, k * (lo - RATIO_SLACK) - sum(b[1] for b in rest), k * (hi + RATIO_SLACK) - sum(b[0] for b in rest))


def _weighted_rows(model: _Model, fig: Figure, boxes: _Boxes) -> None:
    """Weighted F1 = sum_i R_i f_i / N, each f_i in its box: sum f_lo R_i <= hi N and sum f_hi R_i >= lo N, and at
    most accuracy plus (1 - the lowest f_lo) / 2 times the error rate."""
    lo, hi = _span(fig, model.margin)
    n = model.total()
    high = _lin(*((fu, model.row_sum(i)) for i, (_, fu) in enumerate(boxes.m["f1"])))
    low = _lin(*((fl, model.row_sum(i)) for i, (fl, _) in enumerate(boxes.m["f1"])))
    model.row(_lin((1.0, high), (-(lo - RATIO_SLACK), n)), lo=0.0)
    model.row(_lin((1.0, low), (-(hi + RATIO_SLACK), n)), hi=0.0)
    # R_i f_i = C_ii + f_i (R_i - P_i) / 2, and the R_i - P_i sum to 0, so with every f_i >= phi the weighted sum
    # is at most T + (1 - phi) / 2 times the positive R_i - P_i, at most the errors N - T: lo N <= T + (1-phi)/2 (N-T)
    phi = max(0.0, min(fl for fl, _ in boxes.m["f1"]) - RATIO_SLACK)
    t = model.trace()
    model.row(_lin(((1 + phi) / 2, t), ((1 - phi) / 2 - (lo - RATIO_SLACK), n)), lo=0.0)


def _encode_averaged(model: _Model, figures: list[Figure], ctx: _Context, boxes: _Boxes) -> bool:
    """Rows of the averaged figures, and the assumptions they rest on; False when one cannot hold at all."""
    if ctx.need_support:
        for i in range(ctx.k):
            model.row(model.row_sum(i), lo=1.0)
    if ctx.need_predicted:
        for i in range(ctx.k):
            model.row(model.col_sum(i), lo=1.0)
    for fig in figures:
        if fig.kind == "weighted_f1":
            _weighted_rows(model, fig, boxes)
        elif fig.kind in RELAXED_KINDS:
            expr, lo, hi = _mean_row(model, fig, ctx, boxes)
            if expr:
                model.row(expr, lo=lo, hi=hi)
            elif lo > 0.0 or hi < 0.0:  # the boxes alone cannot average to the printed figure
                return False
    return True


def _build(figures: list[Figure], index: dict[str, int], normal: str, ctx: _Context,
           boxes: _Boxes) -> _Model | None:
    """The model of a subset, or None when its averaged figures fail on the boxes alone."""
    model = _Model(k=ctx.k, n_max=int(ctx.n[1]), margin=ctx.margin)
    model.row(model.total(), lo=ctx.n[0], hi=ctx.n[1])  # an evaluation set has at least one sample
    for fig in figures:
        if fig.kind not in RELAXED_KINDS:
            _encode(model, fig, index, normal)
    if ctx.relaxed and not _encode_averaged(model, figures, ctx, boxes):
        return None
    return model


# --- solving ----------------------------------------------------------------------------------------------

def _solve(model: _Model, time_limit_s: float = TIME_LIMIT_S) -> tuple[str, np.ndarray | None]:
    """HiGHS (with presolve) on the model: feasible (with x), infeasible, or undecided."""
    res = milp(np.zeros(model.n_vars), constraints=model.constraints(), integrality=np.ones(model.n_vars),
               bounds=Bounds(0.0, float(model.n_max)), options={"time_limit": time_limit_s})
    if res.status == 0:
        return FEASIBLE, res.x
    if res.status == 2:
        return INFEASIBLE, None
    return UNDECIDED, None  # time or iteration limit, or a numerical failure: not a proof either way


def _optimise(model: _Model, expr: Expr, sense: int, time_limit_s: float = EXPLAIN_TIME_LIMIT_S) -> float | None:
    """The proven optimum of ``sense * expr`` (1: minimum, -1: maximum) over the model's integer points (HiGHS,
    no optimality gap), or None when it stopped first. ``expr`` is an integer combination of cells, so its
    optimum is an integer."""
    c = np.zeros(model.n_vars)
    for v, coef in expr.items():
        c[v] = sense * coef
    res = milp(c, constraints=model.constraints(), integrality=np.ones(model.n_vars),
               bounds=Bounds(0.0, float(model.n_max)), options={"time_limit": time_limit_s, "mip_rel_gap": 0.0})
    return float(round(sense * res.fun)) if res.status == 0 else None


def _scip(figures: list[Figure], index: dict[str, int], normal: str, margin: float,  # noqa: C901 -- one model
          time_limit_s: float = EXACT_TIME_LIMIT_S) -> tuple[str, list[list[int]] | None]:
    """The exact model in SCIP: the linear rows of ``_build`` (the relaxation's rows are implied by the exact
    model, so they stay as cuts), and for each averaged figure one continuous ratio per class tied to its integer
    counts (ratio x denominator = numerator) whose mean, or support-weighted mean, lies in the printed interval."""
    built = _linear(figures, index, normal, margin)
    if built is None:
        return INFEASIBLE, None
    model, boxes, ctx = built
    from pyscipopt import Model, quicksum  # imported here: only averaged figures need it

    scip = Model()
    scip.hideOutput()
    scip.setParam("limits/time", time_limit_s)
    scip.setParam("numerics/feastol", SCIP_FEASTOL)
    k = ctx.k
    x = [scip.addVar(vtype="I", lb=0, ub=model.n_max) for _ in range(k * k)]

    def lin(expr: Expr) -> Any:
        return quicksum(coef * x[v] for v, coef in expr.items())

    for expr, lo, hi in model.rows:
        if math.isfinite(lo):
            scip.addCons(lin(expr) >= lo)
        if math.isfinite(hi):
            scip.addCons(lin(expr) <= hi)
    ratios: dict[str, list[Any]] = {}
    for metric in sorted({_METRIC_OF[f.kind] for f in figures if f.kind in RELAXED_KINDS}):
        ratios[metric] = []
        for i in range(k):
            lo, hi = boxes.m[metric][i]
            q = scip.addVar(vtype="C", lb=max(0.0, lo), ub=min(1.0, hi))
            num, den = _num_den(model, metric, i)
            scip.addCons(q * lin(den) == lin(num))
            ratios[metric].append(q)
    for fig in figures:
        if fig.kind not in RELAXED_KINDS:
            continue
        lo, hi = _span(fig, margin)
        q = ratios[_METRIC_OF[fig.kind]]
        if fig.kind == "weighted_f1":
            weighted = quicksum(q[i] * lin(model.row_sum(i)) for i in range(k))
            scip.addCons(weighted >= lo * lin(model.total()))
            scip.addCons(weighted <= hi * lin(model.total()))
        else:
            scip.addCons(quicksum(q) >= k * lo)
            scip.addCons(quicksum(q) <= k * hi)
    scip.optimize()
    status = scip.getStatus()
    if status == "infeasible":
        return INFEASIBLE, None
    if scip.getNSols() > 0:
        sol = scip.getBestSol()
        return FEASIBLE, [[round(scip.getSolVal(sol, x[i * k + j])) for j in range(k)] for i in range(k)]
    return UNDECIDED, None


@dataclass(frozen=True)
class _Outcome:
    status: str
    matrix: list[list[int]] | None = None
    proven: bool = False  # feasible: the matrix satisfies every figure exactly (else only the relaxation is feasible)


Decide = Callable[..., _Outcome]


def _decider(figures: list[Figure], index: dict[str, int], normal: str) -> Decide:
    """A memoised decision for subsets of ``figures`` (given as sorted index tuples); ``exact=False`` is the
    relaxation's answer (see _decide), which the conflict searches use."""
    memo: dict[tuple[tuple[int, ...], bool], _Outcome] = {}

    def decide(subset: tuple[int, ...], exact: bool = True) -> _Outcome:
        # the relaxation's answer first: it is the exact answer too when it refutes the set or proves it (a
        # witness checked exactly); the exact model runs only past it, and never stands in for the relaxation
        if (subset, False) not in memo:
            memo[(subset, False)] = _decide([figures[i] for i in subset], index, normal, exact=False)
        relaxed = memo[(subset, False)]
        if not exact or relaxed.status != FEASIBLE or relaxed.proven:
            return relaxed
        if (subset, True) not in memo:
            memo[(subset, True)] = _decide([figures[i] for i in subset], index, normal, exact=True)
        return memo[(subset, True)]

    return decide


def _decide(figures: list[Figure], index: dict[str, int], normal: str, exact: bool = True) -> _Outcome:
    """HiGHS on the linear model (averaged figures relaxed), every ratio interval widened by MARGIN: infeasible
    there is proven. A witness that satisfies every figure exactly (that one, or the same model's narrowed by
    MARGIN) is proven feasible. Otherwise the relaxation found no contradiction but proved nothing: with ``exact``
    False that is the answer (feasible, not proven); with ``exact`` the witness searches and then SCIP decide."""
    outcome = _decide_linear(figures, index, normal, MARGIN)
    if outcome.status != FEASIBLE:
        return outcome
    if not _violated(figures, outcome.matrix, index, normal):
        return _Outcome(FEASIBLE, outcome.matrix, proven=True)
    narrowed = _decide_linear(figures, index, normal, -MARGIN)
    if narrowed.status == FEASIBLE and not _violated(figures, narrowed.matrix, index, normal):
        return _Outcome(FEASIBLE, narrowed.matrix, proven=True)
    if not exact:
        return outcome
    if not any(f.kind in RELAXED_KINDS for f in figures):
        return _Outcome(UNDECIDED)  # a linear model feasible only within the margin: not proven either way
    witness = _witness(figures, index, normal, narrowed if narrowed.status == FEASIBLE else outcome)
    return witness if witness is not None else _decide_exact(figures, index, normal)


def _witness(figures: list[Figure], index: dict[str, int], normal: str, relaxed: _Outcome) -> _Outcome | None:
    """A matrix satisfying every figure exactly: first _refine's, from a large diagonal-heavy start (_shaped_start);
    then the banded model's witness, or the same with the averaged figures' denominators fixed at its own (then every figure is linear, _decide_fixed); then, from the relaxation's and
    the banded witnesses, per-class ratio targets (_ratio_targets) and an integer matrix in bands around them
    (_near). None if none is found; that proves nothing."""
    refined = _refined_witness(figures, index, normal)
    if refined is not None:
        return _Outcome(FEASIBLE, refined, proven=True)
    banded = []
    for band in WITNESS_BANDS:
        start = _decide_banded(figures, index, normal, band)
        banded.append(start.matrix)
        if start.status == FEASIBLE:
            if not _violated(figures, start.matrix, index, normal):
                return _Outcome(FEASIBLE, start.matrix, proven=True)
            fixed = _decide_fixed(figures, index, normal, start.matrix)
            if fixed.status == FEASIBLE and not _violated(figures, fixed.matrix, index, normal):
                return _Outcome(FEASIBLE, fixed.matrix, proven=True)
    starts = [relaxed.matrix] + [m for m in banded if m is not None]
    for matrix in starts:
        targets = _ratio_targets(figures, index, np.asarray(matrix, dtype=float))
        witness = None if targets is None else _near(figures, index, normal, targets)
        if witness is not None and not _violated(figures, witness, index, normal):
            return _Outcome(FEASIBLE, witness, proven=True)
    return None


def _shaped_start(figures: list[Figure], index: dict[str, int], normal: str) -> list[list[int]] | None:
    """A start for _refine: a witness of the narrowed linear model in which every class has at least
    WITNESS_CLASS_SIZE samples and predictions (or what its support allows), and every class's ratio, for each
    averaged figure's metric and each class without its own printed figure of that metric, lies within a band
    about the averaged figure (the narrowest of SHAPE_BANDS that is feasible, or none): a large, diagonal-heavy
    matrix, where a step of one count moves a ratio little, so linearising the averages is accurate."""
    built = _linear(figures, index, normal, -MARGIN)
    if built is None:
        return None
    _, boxes, ctx = built
    own = {(f.kind, index[f.cls]) for f in figures if f.kind in _PER_CLASS and f.cls}
    # the classes whose support no figure fixes share what the total leaves after those it fixes
    free = [i for i in range(ctx.k) if boxes.r[i][0] < boxes.r[i][1]]
    room = (min(ctx.n[1], WITNESS_N_CAP_NEAR) - sum(boxes.r[i][0] for i in range(ctx.k) if i not in free)) \
        // max(len(free), 1)
    size = [min(WITNESS_CLASS_SIZE, boxes.r[i][1], max(room, boxes.r[i][0])) for i in range(ctx.k)]
    for band in (*SHAPE_BANDS, None):
        model = _narrowed_model(figures, index, normal, cap=WITNESS_N_CAP_NEAR)
        if model is None:
            return None
        for i in range(model.k):
            model.row(model.row_sum(i), lo=size[i])
            model.row(model.col_sum(i), lo=min(size[i], boxes.r[i][0]) // 2)
        for fig in figures if band is not None else []:
            if fig.kind in RELAXED_KINDS:
                metric, (lo, hi) = _METRIC_OF[fig.kind], _span(fig, -MARGIN)
                for i in range(model.k):
                    if (metric, i) not in own:
                        _encode_class_ratio(model, metric, i, (max(0.0, lo - band), min(1.0, hi + band)))
        outcome = _solved(model, WITNESS_TIME_LIMIT_S)
        if outcome.status == FEASIBLE:
            return outcome.matrix
    return None


def _averaged_value(fig: Figure, c: np.ndarray) -> tuple[float, np.ndarray]:
    """An averaged figure's value at the (float) matrix c, and its gradient with respect to every cell."""
    k = len(c)
    d, rows, cols = np.diag(c), c.sum(axis=1), c.sum(axis=0)
    metric = _METRIC_OF[fig.kind]
    # each class's ratio and its partial derivatives by its numerator's C_ii, its row sum and its column sum
    den = np.maximum({"recall": rows, "precision": cols}.get(metric, rows + cols), 1.0)
    scale = 2.0 if metric == "f1" else 1.0
    f, f_d = scale * d / den, scale / den
    f_r = -f / den if metric != "precision" else np.zeros(k)
    f_p = -f / den if metric != "recall" else np.zeros(k)
    if fig.kind == "weighted_f1":  # sum R_i f_i / N
        n, w = c.sum(), float(rows @ f)
        grad = (f + rows * f_r)[:, None] + (rows * f_p)[None, :] + np.diag(rows * f_d)
        return w / n, grad / n - w / n**2
    return float(f.mean()), (f_r[:, None] + f_p[None, :] + np.diag(f_d)) / k


def _refine(figures: list[Figure], index: dict[str, int], normal: str, start: list[list[int]]) -> list[list[int]] | None:
    """A witness search from ``start`` by sequential linear programming: each step is the narrowed linear model
    plus every averaged figure linearised at the current matrix (its target the middle half of the printed
    interval, any shortfall a slack HiGHS minimises), each cell within a trust region about the current one. A
    step is taken when it brings the averages closer to their targets, else the region is halved. The first
    matrix (the start included) that meets every figure in exact arithmetic is returned; None after REFINE_STEPS
    (this proves nothing)."""
    model = _narrowed_model(figures, index, normal, cap=WITNESS_N_CAP_NEAR)
    if model is None:
        return None
    k, averaged = model.k, [f for f in figures if f.kind in RELAXED_KINDS]
    spans = [_span(f, -MARGIN) for f in averaged]
    targets = [(lo + (hi - lo) / 4, hi - (hi - lo) / 4) for lo, hi in spans]

    def miss(c: np.ndarray, within: list[Interval] = targets) -> float:
        values = [_averaged_value(f, c)[0] for f in averaged]
        return sum(max(0.0, lo - v, v - hi) for v, (lo, hi) in zip(values, within, strict=True))

    def meets(c: np.ndarray) -> bool:  # inside every printed interval (narrowed), then checked exactly
        return miss(c, spans) == 0.0 and not _violated(figures, c.astype(int).tolist(), index, normal)

    base, m = model.constraints(), len(averaged)
    slack = coo_array(np.hstack([np.eye(m), -np.eye(m)]))
    c, rho = np.asarray(start, dtype=float), REFINE_RHO
    if meets(c):
        return c.astype(int).tolist()
    current = miss(c)
    for _ in range(REFINE_STEPS):
        grads, lo, hi = [], [], []
        for fig, (t_lo, t_hi) in zip(averaged, targets, strict=True):
            value, grad = _averaged_value(fig, c)
            offset = value - float((grad * c).sum())
            grads.append(grad.ravel())
            lo.append(t_lo - offset)
            hi.append(t_hi - offset)
        a = vstack([hstack([base.A, coo_array((base.A.shape[0], 2 * m))]), hstack([coo_array(np.array(grads)), slack])])
        step = np.floor(rho * np.maximum(c.ravel(), REFINE_FLOOR))
        with _quiet_stdout():  # HiGHS 1.x prints a debug line to stdout on some early stops (mip_rel_gap)
            res = milp(np.concatenate([np.zeros(k * k), np.ones(2 * m)]),
                       constraints=LinearConstraint(a, np.concatenate([base.lb, lo]), np.concatenate([base.ub, hi])),
                       integrality=np.concatenate([np.ones(k * k), np.zeros(2 * m)]),
                       bounds=Bounds(np.concatenate([np.maximum(0.0, c.ravel() - step), np.zeros(2 * m)]),
                                     np.concatenate([np.minimum(model.n_max, c.ravel() + step), np.full(2 * m, np.inf)])),
                       options={"time_limit": WITNESS_TIME_LIMIT_S, "mip_rel_gap": REFINE_GAP})
        if res.x is None:
            return None
        trial = np.rint(res.x[:k * k]).reshape(k, k)
        if meets(trial):
            return trial.astype(int).tolist()
        missed = miss(trial)
        if missed < current:
            c, current = trial, missed
        else:
            rho /= 2
    return None


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """File descriptor 1 sent to /dev/null for the block (C code's prints included), then restored."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _ratio_targets(figures: list[Figure], index: dict[str, int], start: np.ndarray) -> dict[str, np.ndarray] | None:
    """Per-class precision p, recall r and support share s near those of ``start`` (large classes nearest: they
    carry most of any error count) whose averages sit at the middle of each averaged figure's printed interval,
    which meet every per-class ratio figure, and which a matrix can have: as many predictions as samples,
    sum r_i s_i / p_i = 1. A small smooth problem over 3K numbers (SLSQP), since the averaged figures depend on
    the matrix only through them. None when SLSQP does not get there."""
    from scipy.optimize import minimize

    k = len(index)
    rows, cols, diag = start.sum(axis=1), start.sum(axis=0), np.diag(start)
    n0 = max(float(start.sum()), 1.0)
    p0 = np.where(cols > 0, diag / np.maximum(cols, 1e-9), 0.99)
    r0 = np.where(rows > 0, diag / np.maximum(rows, 1e-9), 0.99)
    s0 = np.maximum(rows / n0, 1e-4)
    s0 = s0 / s0.sum()

    def f1(v: np.ndarray) -> np.ndarray:
        p, r = v[:k], v[k:2 * k]
        return 2 * p * r / np.maximum(p + r, 1e-12)

    value = {"macro_precision": lambda v: v[:k].mean(), "macro_recall": lambda v: v[k:2 * k].mean(),
             "macro_f1": lambda v: f1(v).mean(), "weighted_f1": lambda v: float(v[2 * k:] @ f1(v))}
    cons = [{"type": "eq", "fun": _offset(value[f.kind], float(np.mean(printed_interval(f.value))))}
            for f in figures if f.kind in RELAXED_KINDS]
    cons += [{"type": "eq", "fun": lambda v: v[2 * k:].sum() - 1.0},
             {"type": "eq", "fun": lambda v: float(np.sum(v[k:2 * k] * v[2 * k:] / np.maximum(v[:k], 1e-6))) - 1.0}]
    bounds = [(1e-3, 1.0)] * (2 * k) + [(1e-6, 1.0)] * k
    for f in figures:
        if f.kind in ("precision", "recall") and f.cls:
            lo, hi = _span(f, -2 * MARGIN)
            j = index[f.cls] + (k if f.kind == "recall" else 0)
            bounds[j] = (max(bounds[j][0], lo), min(bounds[j][1], hi))
        elif f.kind == "f1" and f.cls:
            lo, hi = _span(f, -2 * MARGIN)
            i = index[f.cls]
            cons += [{"type": "ineq", "fun": lambda v, i=i, lo=lo: f1(v)[i] - lo},
                     {"type": "ineq", "fun": lambda v, i=i, hi=hi: hi - f1(v)[i]}]
        elif f.kind == "f1_min":
            cons.append({"type": "ineq", "fun": _offset(f1, _f1_floor(f) + 2 * MARGIN)})
    if any(lo > hi for lo, hi in bounds):
        return None
    v0 = np.clip(np.concatenate([p0, r0, s0]), [b[0] for b in bounds], [b[1] for b in bounds])
    size = (rows + cols) / max(float((rows + cols).sum()), 1.0) + 1.0 / (4 * k)
    stiffness = np.concatenate([size, size, np.full(k, 0.1)])
    res = minimize(lambda v: float(np.sum(stiffness * (v - v0) ** 2)), v0, method="SLSQP", bounds=bounds,
                   constraints=cons, options={"maxiter": 300, "ftol": 1e-14})
    if not res.success:
        return None
    return {"precision": res.x[:k], "recall": res.x[k:2 * k], "f1": f1(res.x)}


def _offset(g: Callable[[np.ndarray], Any], by: float) -> Callable[[np.ndarray], Any]:
    return lambda v: g(v) - by


def _near(figures: list[Figure], index: dict[str, int], normal: str, targets: dict[str, np.ndarray]) -> list[list[int]] | None:
    """A witness of the narrowed linear model whose per-class ratios, for each averaged figure's metric, lie within
    a band around the targets (whose averages sit mid-interval), the band as wide as the printed interval allows,
    so that any such matrix meets each averaged figure (a weighted F1 through two linear rows over the supports,
    whatever they become). None if HiGHS finds none."""
    model = _narrowed_model(figures, index, normal, cap=WITNESS_N_CAP_NEAR)
    if model is None:
        return None
    k = model.k
    ctx = _context(figures, index, -MARGIN)
    fixed = [i for i, (lo, hi) in enumerate(ctx.support) if lo == hi > 0]  # a printed support: recall C_ii / R_i
    for fig in figures:
        if fig.kind not in RELAXED_KINDS:
            continue
        lo, hi = _span(fig, -2 * MARGIN)
        metric = _METRIC_OF[fig.kind]
        t = targets[metric]
        band = (hi - lo) / 4
        if fig.kind == "weighted_f1":
            n = model.total()
            model.row(_lin(*((t[i] - band, model.row_sum(i)) for i in range(k)), (-lo, n)), lo=0.0)
            model.row(_lin(*((t[i] + band, model.row_sum(i)) for i in range(k)), (-hi, n)), hi=0.0)
        exact = fixed if metric == "recall" else []  # linear as they stand: held by the mean's row, not a band
        for i in range(k):
            if i not in exact:
                _encode_class_ratio(model, metric, i, (max(0.0, t[i] - band), min(1.0, t[i] + band)))
        if exact:
            free = [(max(0.0, t[i] - band), min(1.0, t[i] + band)) for i in range(k) if i not in exact]
            model.row(_lin(*((1.0 / ctx.support[i][0], model.cell(i, i)) for i in exact)),
                      lo=k * lo - sum(b for _, b in free), hi=k * hi - sum(a for a, _ in free))
    return _solved(model, WITNESS_TIME_LIMIT_S).matrix


def _linear(figures: list[Figure], index: dict[str, int], normal: str,
            margin: float) -> tuple[_Model, _Boxes, _Context] | None:
    """The linear model of the figures (ratios widened by ``margin``), with the boxes and context it came from;
    None when the figures' bounds alone are contradictory (crossed totals or supports, an empty box, or averaged
    figures the boxes cannot reach)."""
    ctx = _context(figures, index, margin)
    if ctx.n[0] > ctx.n[1] or any(lo > hi for lo, hi in ctx.support):
        return None
    boxes = _boxes(ctx)
    model = None if _boxes_empty(boxes) else _build(figures, index, normal, ctx, boxes)
    return None if model is None else (model, boxes, ctx)


def _narrowed_model(figures: list[Figure], index: dict[str, int], normal: str,
                    cap: int = 0) -> _Model | None:
    """The linear model with every printed ratio narrowed by MARGIN (for witness searches), or None if empty."""
    built = _linear(figures, index, normal, -MARGIN)
    if built is None:
        return None
    model, _, ctx = built  # a witness may be sought among smaller sets (any witness proves); the proofs may not
    model.row(model.total(), hi=max(ctx.n[0], sum(lo for lo, _ in ctx.support), cap or WITNESS_N_CAP))
    return model


def _decide_banded(figures: list[Figure], index: dict[str, int], normal: str, band: float) -> _Outcome:
    """A starting point for the witness search: the linear model (narrowed) with every class's ratio, for each
    averaged figure's metric and each class without its own printed figure of that metric, within ``band`` of
    the averaged figure's printed interval (a mean of ratios near the mean is the likely shape; it keeps the
    start away from degenerate matrices whose classes are never predicted)."""
    model = _narrowed_model(figures, index, normal)
    if model is None:
        return _Outcome(INFEASIBLE)
    own = {(f.kind, index[f.cls]) for f in figures if f.kind in _PER_CLASS and f.cls}
    for fig in figures:
        if fig.kind in RELAXED_KINDS:
            metric = _METRIC_OF[fig.kind]
            lo, hi = _span(fig, -MARGIN)
            for i in range(model.k):
                if (metric, i) not in own:
                    _encode_class_ratio(model, metric, i, (max(0.0, lo - band), min(1.0, hi + band)))
    return _solved(model, WITNESS_TIME_LIMIT_S)


def _decide_fixed(figures: list[Figure], index: dict[str, int], normal: str, start: list[list[int]]) -> _Outcome:
    """A witness search: with the denominators of the averaged figures fixed at those of ``start`` (column sums
    for macro precision, row sums for macro recall, row plus column sums for macro F1, and those and the total for
    weighted F1), every averaged figure is linear in the diagonal, so HiGHS solves the exact model restricted to
    those denominators (narrowed by MARGIN). Infeasible here proves nothing; a witness is checked exactly."""
    model = _narrowed_model(figures, index, normal)
    if model is None:
        return _Outcome(INFEASIBLE)
    k = model.k
    c = np.asarray(start)
    rows, cols = c.sum(axis=1).astype(float), c.sum(axis=0).astype(float)
    if (rows == 0).any() or (cols == 0).any():
        return _Outcome(UNDECIDED)
    kinds = {f.kind for f in figures}
    for i in range(k):
        both = _lin((1.0, model.row_sum(i)), (1.0, model.col_sum(i)))
        for needed, expr, value in (({"macro_recall", "weighted_f1"}, model.row_sum(i), rows[i]),
                                    ({"macro_precision"}, model.col_sum(i), cols[i]),
                                    ({"macro_f1", "weighted_f1"}, both, rows[i] + cols[i])):
            if kinds & needed:
                model.row(expr, lo=float(value), hi=float(value))
    n = float(c.sum())
    for fig in figures:
        if fig.kind not in RELAXED_KINDS:
            continue
        lo, hi = _span(fig, -MARGIN)
        weights = {"macro_recall": 1.0 / (k * rows), "macro_precision": 1.0 / (k * cols),
                   "macro_f1": 2.0 / (k * (rows + cols)), "weighted_f1": 2.0 * rows / (n * (rows + cols))}[fig.kind]
        model.row(_lin(*((w, model.cell(i, i)) for i, w in enumerate(weights))), lo=lo, hi=hi)
    if "weighted_f1" in kinds:
        model.row(model.total(), lo=n, hi=n)
    return _solved(model, WITNESS_TIME_LIMIT_S)


def _decide_exact(figures: list[Figure], index: dict[str, int], normal: str) -> _Outcome:
    """SCIP on the exact model: infeasible with every ratio interval widened by MARGIN is proven infeasible; a
    witness of the model narrowed by MARGIN that satisfies every figure in exact arithmetic is proven feasible."""
    status, matrix = _scip(figures, index, normal, MARGIN)
    if status == INFEASIBLE:
        return _Outcome(INFEASIBLE)
    if status == FEASIBLE and not _violated(figures, matrix, index, normal):
        return _Outcome(FEASIBLE, matrix, proven=True)
    status, matrix = _scip(figures, index, normal, -MARGIN)
    if status == FEASIBLE and not _violated(figures, matrix, index, normal):
        return _Outcome(FEASIBLE, matrix, proven=True)
    return _Outcome(UNDECIDED)


def _decide_linear(figures: list[Figure], index: dict[str, int], normal: str, margin: float) -> _Outcome:
    built = _linear(figures, index, normal, margin)
    # None: contradictory bounds (HiGHS would reject the box itself), or e.g. a recall figure that leaves no
    # integer diagonal count
    return _Outcome(INFEASIBLE) if built is None else _solved(built[0])


def _solved(model: _Model, time_limit_s: float = TIME_LIMIT_S) -> _Outcome:
    """HiGHS on the model, its solution as an integer matrix."""
    status, x = _solve(model, time_limit_s)
    if status != FEASIBLE:
        return _Outcome(status)
    k = model.k
    return _Outcome(FEASIBLE, np.rint(x[:k * k]).astype(int).reshape(k, k).tolist())


def _boxes_empty(boxes: _Boxes) -> bool:
    spans = [*boxes.r, *boxes.p, *boxes.c, *(s for v in boxes.m.values() for s in v)]
    return any(lo > hi for lo, hi in spans)


# --- conflicts --------------------------------------------------------------------------------------------



@dataclass
class _Search:
    """The state of the conflict search: what it found, and whether each finding is proven minimal."""

    found: list[tuple[int, ...]] = field(default_factory=list)
    proven: bool = True       # no undecided solve let a figure stay in a conflict
    complete: bool = True     # the search was not cut short by its time budget


def _deletion_filter(working: tuple[int, ...], decide: Decide,
                     deadline: float = math.inf) -> tuple[tuple[int, ...], bool] | None:
    """An irreducible infeasible subset of an infeasible ``working`` set, and whether every step was decided;
    None when the deadline passes first.

    The walk goes in the caller's order, so the conflict keeps the latest figures it can: list headline
    figures (total, accuracy, errors) last. Listed first, the total is dropped first, and a 7-error slip
    in the error count comes out as a 36-figure integer-level conflict among supports and per-class
    figures, at about 10 s a solve, rather than as {total, accuracy, errors} in milliseconds.
    """
    kept, proven = list(working), True
    for idx in working:
        if time.monotonic() > deadline:
            return None
        trial = tuple(k for k in kept if k != idx)
        status = decide(trial).status
        if status == INFEASIBLE:
            kept = list(trial)
        elif status == UNDECIDED:
            proven = False  # keep the figure: the rest is not proven infeasible without it
    return tuple(kept), proven


def _conflicts(n: int, decide: Decide, max_conflicts: int, budget_s: float) -> _Search:
    """Up to ``max_conflicts`` different minimal conflicts along one chain of exclusions; the first always,
    the others while ``budget_s`` lasts."""
    working = tuple(range(n))
    first, proven = _deletion_filter(working, decide)
    search, deadline = _Search(found=[first], proven=proven), time.monotonic() + budget_s
    while len(search.found) < max_conflicts:
        # drop one member of the last conflict (latest in list order first) that leaves the rest infeasible
        for member in reversed(search.found[-1]):
            if time.monotonic() > deadline:
                search.complete = False
                return search
            trial = tuple(k for k in working if k != member)
            if decide(trial).status == INFEASIBLE:
                working = trial
                break
        else:
            return search
        filtered = _deletion_filter(working, decide, deadline)
        if filtered is None:
            search.complete = False
            return search
        search.proven = search.proven and filtered[1]
        if filtered[0] not in search.found:  # cannot repeat (it lacks a member of every earlier one): a guard
            search.found.append(filtered[0])
    return search


def _small_conflicts(figures: list[Figure], decide: Decide, index: dict[str, int], normal: str, size: int = SMALL,
                     budget_s: float = SMALL_BUDGET_S) -> tuple[list[tuple[int, ...]], bool]:
    """Every infeasible set of at most ``size`` figures none of whose proper subsets is infeasible, by size then
    list order, and whether every subset was decided within ``budget_s``. A subset is skipped when it contains a
    conflict already found, or when it lies inside a set already decided feasible (a subset of a feasible set
    is feasible, and of a relaxed one relaxed-feasible, as fewer figures only loosen the model); each feasible
    small set is first grown, figure by figure in list order, into a maximal feasible set, so that one solve
    stands for many subsets (the write-up's 27 figures: about 3,300 subsets, a few hundred solves)."""
    deadline = time.monotonic() + budget_s
    n = len(figures)
    feasible: list[int] = []  # bitmasks of sets decided feasible

    def grow(members: tuple[int, ...], witness: list[list[int]]) -> int:
        kept = set(members) | {i for i in range(n) if not _violated([figures[i]], witness, index, normal)}
        # then figure by figure, each decided without SCIP (the witness heuristics only: fast, and enough here)
        for i in range(n):
            if i not in kept and time.monotonic() <= deadline and \
                    decide(tuple(sorted(kept | {i})), exact=False).status == FEASIBLE:
                kept.add(i)
        return sum(1 << i for i in kept)

    found: list[tuple[int, ...]] = []
    decided = True
    for k in range(1, size + 1):
        for subset in itertools.combinations(range(n), k):
            mask = sum(1 << i for i in subset)
            if any(set(c) <= set(subset) for c in found) or any(mask & w == mask for w in feasible):
                continue
            if time.monotonic() > deadline:
                return found, False
            outcome = decide(subset)
            if outcome.status == INFEASIBLE:
                found.append(subset)
            elif outcome.status == UNDECIDED:
                decided = False
            else:
                feasible.append(grow(subset, outcome.matrix))
    return found, decided


# --- each conflict as arithmetic --------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def _pct(x: float) -> str:
    return f"{100 * x:.3f}%"


def _printed(fig: Figure) -> str:
    """The printed figure and, for a rounded one, the interval it stands for."""
    if fig.value is None:
        lo, hi = _figure_span(fig)
        return f"{_fmt(lo)} to {_fmt(hi)}" if math.isfinite(hi) else f"at least {_fmt(lo)}"
    lo, hi = printed_interval(fig.value)
    if lo == hi:
        return _fmt(lo)
    return f"{fig.value} ({_pct(lo)} to {_pct(hi)})" if str(fig.value).strip().endswith("%") else \
        f"{fig.value} ({lo:g} to {hi:g})"


def _count_pivot(model: _Model, fig: Figure, index: dict[str, int], normal: str) -> tuple[str, Expr] | None:
    """What a count figure counts, as words and as a linear expression over the cells; None if not one count."""
    if fig.kind == "total":
        return "the number of evaluated samples", model.total()
    if fig.kind == "errors":
        return "the number of errors", _lin((1.0, model.total()), (-1.0, model.trace()))
    if fig.kind == "support":
        return f"the support of {fig.cls}", model.row_sum(index[fig.cls])
    cells = _cells(fig, index, normal) if fig.kind in ("cell", "cell_range", "block_sum") else []
    if fig.kind == "block_sum" or (cells and len(cells) == 1):
        return f"the {fig.source} -> {fig.target} errors", _lin(*((1.0, model.cell(i, j)) for i, j in cells))
    return None


def _ratio_pivot(model: _Model, fig: Figure, index: dict[str, int]) -> tuple[str, Expr, Expr, str] | None:
    """A ratio figure: its name, numerator, denominator and the denominator's name."""
    n, t = model.total(), model.trace()
    if fig.kind == "accuracy":
        return "accuracy", t, n, "the number of evaluated samples"
    if fig.kind == "error_rate":
        return "the error rate", _lin((1.0, n), (-1.0, t)), n, "the number of evaluated samples"
    if fig.kind in ("recall", "precision", "f1"):
        num, den = _num_den(model, fig.kind, index[fig.cls])
        what = {"recall": "support", "precision": "number of predictions", "f1": "support plus predictions"}[fig.kind]
        return f"the {fig.kind} of {fig.cls}", num, den, f"its {what}"
    return None


def _explain(conflict: tuple[int, ...], figures: list[Figure], index: dict[str, int], normal: str) -> str:
    """One sentence of arithmetic: for the conflict's latest figure that can be isolated, the range the others
    allow for what it prints (a proven optimum of the solver over the others), against the printed value."""
    kinds = {figures[i].kind: figures[i] for i in conflict}
    if len(conflict) == 2 and set(kinds) == {"accuracy", "error_rate"}:  # two ratios of one denominator
        (alo, ahi), (elo, ehi) = printed_interval(kinds["accuracy"].value), printed_interval(kinds["error_rate"].value)
        return (f"Accuracy and error rate add up to 100%; the printed {_printed(kinds['accuracy'])} and "
                f"{_printed(kinds['error_rate'])} add up to {_pct(alo + elo)} to {_pct(ahi + ehi)}.")
    rate = kinds.get("error_rate") or kinds.get("accuracy")
    if len(conflict) == 3 and rate is not None and {"f1_min", "weighted_f1"} <= set(kinds):
        told = _explain_weighted(rate, kinds["f1_min"], kinds["weighted_f1"])
        if told is not None:  # else the bound is not what rules the three out: the general sentence below
            return told
    others_of = {i: [figures[j] for j in conflict if j != i] for i in conflict}
    deadline = time.monotonic() + EXPLAIN_BUDGET_S
    for i in reversed(conflict):
        fig, rest = figures[i], others_of[i]
        if not rest or time.monotonic() > deadline:
            break
        ctx = _context(rest, index)
        if ctx.n[0] > ctx.n[1] or any(lo > hi for lo, hi in ctx.support):
            continue
        boxes = _boxes(ctx)
        model = None if _boxes_empty(boxes) else _build(rest, index, normal, ctx, boxes)
        if model is None:
            continue
        sentence = _explain_count(fig, model, index, normal, len(rest)) or _explain_ratio(fig, model, index, len(rest))
        if sentence:
            return sentence
    return (f"No integer confusion matrix satisfies these {len(conflict)} figures together (the solver's proof); "
            "no one of them could be isolated, within the time allowed, as a count or as a ratio over a denominator "
            "the others fix.")


def _explain_weighted(rate: Figure, floor: Figure, weighted: Figure) -> str | None:
    """The weighted-F1 bound as a sentence: at most 1 - (1 + the lowest class F1) / 2 x the error rate; None when
    that bound is not below the printed weighted F1 (three such figures can also conflict through a printed weighted
    F1 that is too low, or through integer counts: the sentence would then be false)."""
    e = printed_interval(rate.value)[0] if rate.kind == "error_rate" else 1.0 - printed_interval(rate.value)[1]
    phi = _f1_floor(floor)
    if not 1 - (1 + phi) / 2 * e < printed_interval(weighted.value)[0]:
        return None
    return (f"Each class's support times its F1 is its correct count plus F1 x (support - predictions) / 2, and "
            f"supports and predictions have the same sum, so weighted F1 is at most accuracy + (1 - the lowest class "
            f"F1) / 2 x error rate: with an error rate of at least {_pct(e)} and every F1 at least {_pct(phi)}, at most "
            f"1 - {(1 + phi) / 2:g} x {_pct(e)} = {_pct(1 - (1 + phi) / 2 * e)}, below the printed {_printed(weighted)}.")


def _others(k: int, verb: str) -> str:
    """'The other figure needs' / 'The other 2 figures need'."""
    return f"The other figure {verb}s" if k == 1 else f"The other {k} figures {verb}"


def reading(fig: Figure) -> str:
    """What the model reads a figure as, in words: one sentence of the write-up can give two figures (its
    error count and its total), and the report names both readings under one quote."""
    printed = _printed(fig)
    return {
        "total": f"evaluated samples = {printed}", "errors": f"errors = {printed}",
        "support": f"support of {fig.cls} = {printed}", "accuracy": f"accuracy = {printed}",
        "error_rate": f"error rate = {printed}", "recall": f"recall of {fig.cls} = {printed}",
        "precision": f"precision of {fig.cls} = {printed}", "f1": f"F1 of {fig.cls} = {printed}",
        "f1_min": f"every class's F1 >= {printed}", "cell": f"{fig.source} -> {fig.target} errors = {printed}",
        "cell_range": f"each {fig.source} -> {fig.target} cell: {printed} errors",
        "block_sum": f"{fig.source} -> {fig.target} errors in all = {printed}",
        "cell_max": f"{fig.source} -> {fig.target} is the largest error cell"
                    + (f" ({printed})" if fig.value is not None else ""),
        "macro_precision": f"macro precision = {printed}", "macro_recall": f"macro recall = {printed}",
        "macro_f1": f"macro F1 = {printed}", "weighted_f1": f"weighted F1 = {printed}",
    }.get(fig.kind, fig.id)


def _explain_count(fig: Figure, model: _Model, index: dict[str, int], normal: str, k: int) -> str | None:
    pivot = _count_pivot(model, fig, index, normal)
    if pivot is None:
        return None
    what, expr = pivot
    low, high = _optimise(model, expr, 1), _optimise(model, expr, -1)
    if low is None or high is None:
        return None
    plo, phi = _figure_span(fig)
    printed = f"the write-up prints {_printed(fig)}"
    if low == high:
        return f"{_others(k, 'fix')} {what} at {_fmt(low)}; {printed}."
    if phi < low:
        return f"{_others(k, 'need')} {what} to be at least {_fmt(low)}; {printed}."
    if plo > high:
        return f"{_others(k, 'allow')} {what} of at most {_fmt(high)}; {printed}."
    return None  # the printed count fits the range: the conflict is not about this figure alone


def _explain_ratio(fig: Figure, model: _Model, index: dict[str, int], k: int) -> str | None:
    pivot = _ratio_pivot(model, fig, index)
    if pivot is None:
        return None
    what, num, den, den_name = pivot
    den_low, den_high = _optimise(model, den, 1), _optimise(model, den, -1)
    if den_low is None or den_low != den_high or den_low <= 0:
        return None  # the denominator is not fixed by the others: the ratio's range is not one division
    low, high = _optimise(model, num, 1), _optimise(model, num, -1)
    if low is None or high is None:
        return None
    plo, phi = printed_interval(fig.value)
    d = den_low
    if Fraction(high) / Fraction(d) >= Fraction(plo) and Fraction(low) / Fraction(d) <= Fraction(phi):
        return None
    if low == high:
        value = f"{_fmt(low)} / {_fmt(d)} = {_pct(low / d)}"
    elif Fraction(high) / Fraction(d) < Fraction(plo):
        value = f"at most {_fmt(high)} / {_fmt(d)} = {_pct(high / d)}"
    else:
        value = f"at least {_fmt(low)} / {_fmt(d)} = {_pct(low / d)}"
    return f"{_others(k, 'fix')} {den_name} at {_fmt(d)}, so {what} is {value}, outside the printed {_printed(fig)}."


# --- exact check of a witness -----------------------------------------------------------------------------

def _violated(figures: Iterable[Figure], matrix: list[list[int]], index: dict[str, int], normal: str) -> list[str]:
    """Ids of the figures the integer matrix does not satisfy, computed in exact rational arithmetic."""
    c = [[int(v) for v in row] for row in matrix]
    return [fig.id for fig in figures if not _holds(fig, c, index, normal)]


def _within(q: Fraction | int, span: Interval) -> bool:
    lo, hi = span
    return (lo == -np.inf or q >= Fraction(lo)) and (hi == np.inf or q <= Fraction(hi))


def _within_printed(q: Fraction, fig: Figure) -> bool:
    """q inside the figure's printed interval, both ends exact (no float, no slack)."""
    lo, hi = _printed_exact(fig.value)
    return lo <= q <= hi


def _ratio(num: int, den: int) -> Fraction:
    return Fraction(num, den) if den else Fraction(0)  # sklearn's zero_division=0


def _class_ratios(c: list[list[int]], metric: str) -> list[Fraction]:
    k = len(c)
    rows = [sum(c[i]) for i in range(k)]
    cols = [sum(c[j][i] for j in range(k)) for i in range(k)]
    if metric == "recall":
        return [_ratio(c[i][i], rows[i]) for i in range(k)]
    if metric == "precision":
        return [_ratio(c[i][i], cols[i]) for i in range(k)]
    return [_ratio(2 * c[i][i], rows[i] + cols[i]) for i in range(k)]


def _holds(fig: Figure, c: list[list[int]], index: dict[str, int], normal: str) -> bool:  # noqa: C901 -- one branch per kind
    k = len(c)
    n, t = sum(map(sum, c)), sum(c[i][i] for i in range(k))
    kind = fig.kind
    if kind in ("total", "errors", "support"):
        q = n if kind == "total" else n - t if kind == "errors" else sum(c[index[fig.cls]])
        return _within(q, _figure_span(fig))
    if kind in ("accuracy", "error_rate"):
        return _within_printed(_ratio(t if kind == "accuracy" else n - t, n), fig)
    if kind in ("recall", "precision", "f1"):
        return _within_printed(_class_ratios(c, kind)[index[fig.cls]], fig)
    if kind == "f1_min":
        floor = _printed_exact(fig.value)[0] if fig.value is not None else Fraction(fig.low)
        return all(q >= floor for q in _class_ratios(c, "f1"))
    if kind in ("cell", "cell_range"):
        return all(_within(c[i][j], _figure_span(fig)) for i, j in _cells(fig, index, normal))
    if kind == "block_sum":
        return _within(sum(c[i][j] for i, j in _cells(fig, index, normal)), _figure_span(fig))
    if kind == "cell_max":
        s, g = index[fig.source], index[fig.target]
        top = all(c[i][j] <= c[s][g] for i in range(k) for j in range(k) if i != j)
        return top and (fig.value is None or _within(c[s][g], printed_interval(fig.value)))
    # an averaged figure: defined only when every class occurs (and, for macro precision, is predicted)
    if any(sum(row) == 0 for row in c) or (kind == "macro_precision" and any(
            sum(c[i][j] for i in range(k)) == 0 for j in range(k))):
        return False
    if kind == "weighted_f1":
        weighted = sum(sum(row) * f for row, f in zip(c, _class_ratios(c, "f1"), strict=True))
        return _within_printed(weighted / n, fig)
    return _within_printed(sum(_class_ratios(c, _METRIC_OF[kind])) / k, fig)


# --- the entry point --------------------------------------------------------------------------------------

def consistent(figures: list[Figure], classes: list[str], normal: str) -> bool | None:
    """Whether one integer confusion matrix satisfies every figure: True (a witness checked exactly), False
    (proven infeasible with every ratio interval widened by MARGIN), None (undecided within the time limits)."""
    _validate(figures, classes, normal)
    status = _decide(figures, {name: i for i, name in enumerate(classes)}, normal).status
    return {FEASIBLE: True, INFEASIBLE: False}.get(status)


def check(figures: list[Figure], classes: list[str], normal: str, max_conflicts: int = 5,
          time_budget_s: float = TIME_BUDGET_S, small_budget_s: float = SMALL_BUDGET_S,
          exact_budget_s: float = EXACT_BUDGET_S) -> Result:
    """Whether one integer confusion matrix satisfies every figure; if not, minimal conflicting sets of ids:
    every one of at most SMALL figures (searched exhaustively while ``small_budget_s`` lasts, and the result
    says whether it finished), then larger ones along a chain of exclusions while ``time_budget_s`` lasts (the
    first of the chain always to the end)."""
    _validate(figures, classes, normal)
    if max_conflicts < 1:
        raise HarnessError(f"max_conflicts must be at least 1, got {max_conflicts}.")
    index = {name: i for i, name in enumerate(classes)}
    decide = _decider(figures, index, normal)
    everything = tuple(range(len(figures)))
    outcome = decide(everything)
    if outcome.status == UNDECIDED:
        return Result(False, [], None, f"Undecided: the solvers stopped (HiGHS {TIME_LIMIT_S:g} s, SCIP "
                                       f"{EXACT_TIME_LIMIT_S:g} s per solve, or a numerical failure) before proving the "
                                       f"{len(figures)} figures feasible or infeasible, so nothing is claimed.",
                      decided=False)
    if outcome.status == FEASIBLE:
        return Result(True, [], outcome.matrix, _feasible_note(figures))
    # the searches decide subsets by the linear relaxation when it already refutes the whole set (fast; its
    # conflicts are proven), then settle the small subsets it could not with the exact model (_exact_small)
    relaxed = decide(everything, exact=False).status == INFEASIBLE
    search_decide = functools.partial(decide, exact=False) if relaxed else decide
    small, small_complete = _small_conflicts(figures, search_decide, index, normal, budget_s=small_budget_s)
    exact = _exact_small(figures, decide, small, index, normal, exact_budget_s) \
        if relaxed and small_budget_s > 0 else _ExactPass()  # part of the small search: off when it is
    small = sorted(small + exact.found, key=lambda c: (len(c), c))
    search = _conflicts(len(figures), search_decide, max_conflicts, time_budget_s)
    # every conflict of at most SMALL figures (the same on any machine), then the larger ones the chain of
    # exclusions found while its time budget lasted
    found = small + [c for c in search.found if c not in small]
    conflicts = [[figures[i].id for i in iis] for iis in found]
    return Result(False, conflicts, None, _infeasible_note(figures, conflicts, search, small_complete, exact),
                  explanations=[_explain(c, figures, index, normal) for c in found],
                  small_complete=small_complete, exact_complete=exact.complete and not exact.undecided,
                  undecided=[[figures[i].id for i in u] for u in exact.undecided])


@dataclass
class _ExactPass:
    """What the exact pass over the small subsets with averaged figures found."""

    found: list[tuple[int, ...]] = field(default_factory=list)      # conflicts only the exact model shows
    undecided: list[tuple[int, ...]] = field(default_factory=list)  # subsets neither proven nor refuted in time
    complete: bool = True                                           # every such subset was tried
    subsets: int = 0                                                # such subsets (no known conflict in them)
    witnesses: int = 0                                              # witness matrices that certify them
    tried: int = 0                                                  # subsets the quick witness search missed
    budget_s: float = EXACT_BUDGET_S


def _exact_small(figures: list[Figure], decide: Decide, conflicts: list[tuple[int, ...]],  # noqa: C901 -- one pass
                 index: dict[str, int], normal: str, budget_s: float = EXACT_BUDGET_S, size: int = SMALL) -> _ExactPass:
    """Every subset of at most ``size`` figures with an averaged figure and no known conflict in it (the relaxation let
    it through: the small search found no conflict there) is decided on the exact model, by size then list order.

    A greedy cover of witnesses: one integer matrix certifies every subset of the figures it satisfies (checked in
    exact arithmetic), so a subset no witness covers yet gets one from _refined_witness (about 0.1 s), which is then
    grown (_grow) by the figures most of the still uncovered subsets contain, each addition a further witness search
    warm-started from the witness so far, so that one witness covers many subsets. A subset the quick search finds none for is decided by ``decide`` (the
    relaxation, every witness search, then SCIP): a conflict found is minimal, its proper subsets having been decided
    before it; an undecided one is listed. ``budget_s`` is a guard: the pass stops when it is spent (and says so)."""
    deadline = time.monotonic() + budget_s
    n = len(figures)
    out = _ExactPass(budget_s=budget_s)
    averaged = sum(1 << i for i, f in enumerate(figures) if f.kind in RELAXED_KINDS)
    known = [sum(1 << i for i in c) for c in conflicts]
    certified: list[int] = []  # bitmasks of the figures each witness satisfies
    matrices: list[tuple[int, list[list[int]]]] = []  # (bitmask, a witness of the figures it holds), one per witness

    def satisfied(matrix: list[list[int]]) -> int:
        return sum(1 << i for i in range(n) if not _violated([figures[i]], matrix, index, normal))

    pending = [(s, m) for k in range(1, size + 1) for s in itertools.combinations(range(n), k)
               if (m := sum(1 << i for i in s)) & averaged and not any(c & m == c for c in known)]
    out.subsets = len(pending)
    for pos, (subset, mask) in enumerate(pending):
        if any(mask & c == mask for c in certified) or any(c & mask == c for c in known):
            continue
        if time.monotonic() > deadline:
            out.complete = False
            return out
        chosen = [figures[i] for i in subset]
        witness = _refined_witness(chosen, index, normal)
        # else _refine from the witnesses so far that meet most of the subset (their matrices are realistic)
        for _, start in sorted(matrices, key=lambda w: -(w[0] & mask).bit_count())[:WARM_STARTS] if witness is None else []:
            witness = _refine(chosen, index, normal, start)
            if witness is not None:
                break
        if witness is None:
            relaxed = decide(subset, exact=False).status
            if relaxed == UNDECIDED:
                out.undecided.append(subset)
                continue
            if relaxed != FEASIBLE:
                continue  # the relaxation refutes it: a conflict the search found, or one containing it
            out.tried += 1
            outcome = decide(subset)
            if outcome.status == INFEASIBLE:
                out.found.append(subset)
                known.append(mask)
                continue
            if outcome.status == UNDECIDED:
                out.undecided.append(subset)
                continue
            witness = outcome.matrix
        uncovered = [m for _, m in pending[pos + 1:] if not any(m & c == m for c in certified)]
        grown, witness = _grow(figures, satisfied(witness) | mask, witness, uncovered, known, satisfied, index,
                               normal, deadline)
        certified.append(grown)
        matrices.append((grown, witness))
        out.witnesses += 1
    return out


def _grow(figures: list[Figure], members: int, witness: list[list[int]], uncovered: list[int], known: list[int],
          satisfied: Callable[[list[list[int]]], int], index: dict[str, int], normal: str,
          deadline: float) -> tuple[int, list[list[int]]]:
    """A witness (``witness`` at first) and the bitmask of the figures it satisfies (``members``), after growing it:
    each figure outside it that some ``uncovered`` subset needs, most needed first (skipping one that would complete
    a known conflict), is added when _refined_witness finds a witness for the set so far plus it. At most
    GROW_MISSES failed searches in all."""
    n, misses = len(figures), 0
    need = [sum(1 for m in uncovered if m >> i & 1) for i in range(n)]
    for i in sorted(range(n), key=lambda i: -need[i]):
        if misses >= GROW_MISSES or time.monotonic() > deadline:
            break
        grown = members | 1 << i
        if members >> i & 1 or not need[i] or any(c & grown == c for c in known):
            continue
        chosen = [figures[j] for j in range(n) if grown >> j & 1]
        # from the witness so far, moved to the nearest matrix that meets the linear figures (a few steps), else
        # from a fresh start
        near = _projected(chosen, index, normal, witness)
        found = (_refine(chosen, index, normal, near) if near is not None else None) or \
            _refined_witness(chosen, index, normal)
        if found is None:
            misses += 1
            continue
        witness, members = found, grown | satisfied(found)
    return members, witness


def _projected(figures: list[Figure], index: dict[str, int], normal: str, start: list[list[int]]) -> list[list[int]] | None:
    """The integer matrix of the narrowed linear model nearest ``start`` (least sum of absolute cell changes; HiGHS
    within REFINE_GAP), or None: a witness that meets all but a new figure, moved just enough to meet the linear ones,
    is a near start for _refine."""
    model = _narrowed_model(figures, index, normal, cap=WITNESS_N_CAP_NEAR)
    if model is None:
        return None
    base, kk = model.constraints(), model.k * model.k
    w, eye = np.asarray(start, dtype=float).ravel(), coo_array(np.eye(kk))
    a = vstack([hstack([base.A, coo_array((base.A.shape[0], kk))]), hstack([eye, -eye]), hstack([eye, eye])])
    with _quiet_stdout():
        res = milp(np.concatenate([np.zeros(kk), np.ones(kk)]),  # x - d <= w <= x + d: d >= |x - w|
                   constraints=LinearConstraint(a, np.concatenate([base.lb, np.full(kk, -np.inf), w]),
                                                np.concatenate([base.ub, w, np.full(kk, np.inf)])),
                   integrality=np.concatenate([np.ones(kk), np.zeros(kk)]),
                   bounds=Bounds(np.zeros(2 * kk), np.concatenate([np.broadcast_to(model.n_max, kk), np.full(kk, np.inf)])),
                   options={"time_limit": WITNESS_TIME_LIMIT_S, "mip_rel_gap": REFINE_GAP})
    return None if res.x is None else np.rint(res.x[:kk]).reshape(model.k, model.k).astype(int).tolist()


def _refined_witness(figures: list[Figure], index: dict[str, int], normal: str) -> list[list[int]] | None:
    """The quick witness search: _refine from _shaped_start (about 0.1 s), or None (which proves nothing)."""
    shaped = _shaped_start(figures, index, normal)
    return None if shaped is None else _refine(figures, index, normal, shaped)


def _assumption(figures: list[Figure], ids: list[str]) -> str:
    """The assumption the averaged figures among ``ids`` add: supports >= 1, and predictions for macro precision."""
    predicted = any(f.kind == "macro_precision" and f.id in ids for f in figures)
    return "the assumption that every class has support >= 1" + (" and is predicted at least once" if predicted else "")


def _feasible_note(figures: list[Figure]) -> str:
    averaged = [f.id for f in figures if f.kind in RELAXED_KINDS]
    extra = f", including the averaged figures {', '.join(averaged)}" if averaged else ""
    return (f"Feasible: the witness confusion matrix satisfies all {len(figures)} figures, checked in exact "
            f"arithmetic{extra}.")


def _infeasible_note(figures: list[Figure], conflicts: list[list[str]], search: _Search, small_complete: bool,
                     exact: _ExactPass) -> str:
    n_conflicts = len(conflicts)
    n_small = sum(len(c) <= SMALL for c in conflicts)
    every = "every" if small_complete else "those found, before the search's time budget ran out, among the"
    what = (f"Infeasible: no integer confusion matrix satisfies all {len(figures)} figures; "
            f"{n_conflicts} minimal conflicting set{'s' if n_conflicts != 1 else ''} listed ({every} conflict of at "
            f"most {SMALL} figures, {n_small}, found by trying each subset; then larger ones by a deletion filter)")
    averaged = [f.id for f in figures if f.kind in RELAXED_KINDS]
    if averaged:
        named = [r for r in averaged if any(r in conflict for conflict in conflicts)]
        if exact.subsets:
            what += (f"; the averaged figures ({', '.join(averaged)}) are then decided exactly in each of the "
                     f"{exact.subsets} subsets of at most {SMALL} figures that hold one of them and none of the "
                     f"conflicts the linear relaxation proves: {exact.witnesses} witness matrices, checked in exact "
                     f"arithmetic, cover the feasible ones, and {exact.tried} needed the full search (every witness "
                     "search, then SCIP)")
        else:
            what += (f"; the averaged figures ({', '.join(averaged)}) are decided exactly (witness searches, then "
                     "SCIP) wherever the linear relaxation lets a subset through")
        if exact.found:
            what += f"; {len(exact.found)} of them are conflicts the relaxation missed"
        if exact.undecided:
            what += f"; {len(exact.undecided)} stayed undecided ({EXACT_TIME_LIMIT_S:g} s a SCIP solve; listed)"
        if not exact.complete:
            what += (f"; the pass stopped at its {exact.budget_s:g} s budget, so the remaining such subsets were not "
                     "decided exactly, and a conflict among them, if any, is not listed")
        elif not exact.undecided:
            what += "; every one was decided"
        if named:
            what += f"; conflicts naming {', '.join(named)} rest on {_assumption(figures, named)}"
    if not search.complete:
        what += "; the search for larger ones stopped at its time budget"
    if not search.proven:
        what += "; minimality of a larger one is not proven because a solve during the search was undecided"
    return what + "."
