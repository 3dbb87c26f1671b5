"""The feasibility checker against a real solver: printed intervals by hand, a consistent table made from a
real confusion matrix (feasible), the same table with one figure nudged (infeasible, minimal conflicts),
the write-up's own slips, and the input errors."""

from __future__ import annotations

import dataclasses
import itertools
import random
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from harness.errors import HarnessError
from harness.judge.feasibility import RELAXED_KINDS, Figure, check, printed_interval

CLASSES = ["Normal", "Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting",
           "RoadAccidents", "Robbery", "Shooting", "Shoplifting", "Stealing", "Vandalism"]
SUPPORTS = [46028, 2118, 1799, 1675, 1523, 1402, 1288, 1150, 1020, 905, 790, 600, 212]
SUPPORTS.append(60635 - sum(SUPPORTS))  # 125: the total is the write-up's 60,635


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def confusion(seed: int = 7) -> np.ndarray:
    """A seeded 14 x 14 matrix: a large diagonal, Normal -> abnormal errors, a few of every other kind."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    c = np.zeros((k, k), dtype=int)
    c[0, 1:] = rng.integers(2, 30, size=k - 1)
    c[1:, 0] = rng.integers(0, 4, size=k - 1)
    for _ in range(12):
        i, j = rng.choice(np.arange(1, k), size=2, replace=False)
        c[i, j] += 1
    for i in range(k):
        c[i, i] = SUPPORTS[i] - c[i].sum()
    return c


def table(c: np.ndarray) -> list[Figure]:
    """Every kind of figure, computed from the matrix with sklearn and printed the way a write-up prints them."""
    k = len(CLASSES)
    y_true = np.repeat(np.repeat(np.arange(k), k), c.ravel())
    y_pred = np.repeat(np.tile(np.arange(k), k), c.ravel())
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(k), zero_division=0)
    macro = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    weighted_f1 = precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)[2]
    off = c - np.diag(np.diag(c))
    si, sj = np.unravel_index(off.argmax(), off.shape)
    n, errors = int(c.sum()), int(c.sum() - np.trace(c))
    # details first, headline figures last: a conflict keeps the latest figures it can (harness.judge.feasibility)
    figs = []
    for i, name in enumerate(CLASSES):
        figs += [Figure(f"precision.{name}", "precision", pct(p[i]), cls=name),
                 Figure(f"recall.{name}", "recall", pct(r[i]), cls=name),
                 Figure(f"f1.{name}", "f1", pct(f[i]), cls=name)]
    figs += [Figure(f"support.{name}", "support", int(s[i]), cls=name) for i, name in enumerate(CLASSES)]
    figs += [Figure("f1_min", "f1_min", f"{int(np.floor(100 * f.min()))}%"),
             Figure("normal_to_abnormal", "cell_range", source="Normal", target="abnormal",
                    low=int(c[0, 1:].min()), high=int(c[0, 1:].max())),
             Figure("inter_abnormal", "block_sum", source="abnormal", target="abnormal", high=int(off[1:, 1:].sum())),
             Figure("top_cell", "cell", int(c[si, sj]), source=CLASSES[si], target=CLASSES[sj]),
             Figure("most_common", "cell_max", source=CLASSES[si], target=CLASSES[sj]),
             Figure("macro_precision", "macro_precision", pct(macro[0])),
             Figure("macro_recall", "macro_recall", pct(macro[1])),
             Figure("macro_f1", "macro_f1", pct(macro[2])),
             Figure("weighted_f1", "weighted_f1", pct(weighted_f1)),
             Figure("total", "total", n),
             Figure("error_rate", "error_rate", pct(errors / n)),
             Figure("errors", "errors", errors),
             Figure("accuracy", "accuracy", pct(accuracy_score(y_true, y_pred)))]
    return figs


@pytest.fixture(scope="module")
def consistent() -> tuple[np.ndarray, list[Figure]]:
    c = confusion()
    return c, table(c)


def holds_exactly(fig: Figure, m: np.ndarray) -> bool:
    """The figure on an integer matrix, in rational arithmetic (independent of the module's own check)."""
    k = len(CLASSES)
    n, t = int(m.sum()), int(np.trace(m))
    rows, cols, diag = m.sum(1), m.sum(0), np.diag(m)

    def inside(q: Fraction) -> bool:
        lo, hi = printed_interval(fig.value)
        return Fraction(lo) <= q <= Fraction(hi)

    def f1(i: int) -> Fraction:
        return Fraction(2 * int(diag[i]), int(rows[i] + cols[i]))

    idx = CLASSES.index(fig.cls) if fig.cls else None
    src, dst = (CLASSES.index(fig.source), CLASSES.index(fig.target)) if fig.kind in ("cell", "cell_max") else (0, 0)
    checks = {
        "total": lambda: n == fig.value,
        "support": lambda: rows[idx] == fig.value,
        "errors": lambda: n - t == fig.value,
        "accuracy": lambda: inside(Fraction(t, n)),
        "error_rate": lambda: inside(Fraction(n - t, n)),
        "recall": lambda: inside(Fraction(int(diag[idx]), int(rows[idx]))),
        "precision": lambda: inside(Fraction(int(diag[idx]), int(cols[idx]))),
        "f1": lambda: inside(f1(idx)),
        "f1_min": lambda: all(f1(i) >= Fraction(printed_interval(fig.value)[0]) for i in range(k)),
        "cell": lambda: m[src, dst] == fig.value,
        "cell_max": lambda: all(m[i, j] <= m[src, dst] for i in range(k) for j in range(k) if i != j),
        "cell_range": lambda: all(fig.low <= m[0, j] <= fig.high for j in range(1, k)),
        "block_sum": lambda: (m[1:, 1:].sum() - np.trace(m[1:, 1:])) <= fig.high,
    }
    return checks[fig.kind]()


# --- printed intervals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("99.38%", (0.99375, 0.99385)),
    ("0.7%", (0.0065, 0.0075)),
    ("96%", (0.955, 0.965)),
    ("1.14", (1.135, 1.145)),
    (423, (423, 423)),
    ("60,635", (60635, 60635)),
    ("80", (80, 80)),          # a digit string is a count, and counts are exact
    (0.9938, (0.99375, 0.99385)),
])
def test_printed_interval(text, expected):
    assert printed_interval(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("text", ["ninety", "99.3.8%", "", "1,23", True, float("nan")])
def test_printed_interval_rejects_non_numbers(text):
    with pytest.raises(HarnessError):
        printed_interval(text)


# --- a consistent table -----------------------------------------------------------------------------------

def test_a_table_from_a_real_matrix_is_feasible(consistent):
    c, figs = consistent
    assert len(figs) == 69 and {f.kind for f in figs} >= {*RELAXED_KINDS, "cell_max", "block_sum", "f1_min"}
    result = check(figs, CLASSES, "Normal")
    assert result.feasible and result.conflicts == [] and result.decided
    witness = np.array(result.matrix)
    assert witness.shape == (14, 14) and (witness >= 0).all()
    assert all(holds_exactly(f, witness) for f in figs if f.kind not in RELAXED_KINDS)
    assert "Feasible" in result.note


def test_the_checker_holds_the_true_matrix_to_every_figure(consistent):
    # the test's own exact check agrees with the table: the table really is consistent
    c, figs = consistent
    assert all(holds_exactly(f, c) for f in figs if f.kind not in RELAXED_KINDS)


def test_no_subset_of_a_consistent_table_is_called_infeasible(consistent):
    # the property that matters most: the checker never invents a contradiction (undecided is allowed)
    _, figs = consistent
    rng = random.Random(3)
    for _ in range(10):  # 100 more, of a few figures each, in test_feasibility_oracle.py
        subset = rng.sample(figs, rng.randint(2, len(figs)))
        result = check(subset, CLASSES, "Normal", max_conflicts=1)
        assert result.feasible or not result.decided, [f.id for f in subset]


# --- one figure nudged -----------------------------------------------------------------------------------

def nudged(figs: list[Figure], fid: str, value) -> list[Figure]:
    return [dataclasses.replace(f, value=value) if f.id == fid else f for f in figs]


def assert_minimal(conflict: list[str], figs: list[Figure]) -> None:
    members = [f for f in figs if f.id in conflict]
    assert not check(members, CLASSES, "Normal", max_conflicts=1, small_budget_s=0).feasible
    for drop in conflict:  # feasible, or undecided (an averaged figure neither proven nor refuted in time)
        result = check([f for f in members if f.id != drop], CLASSES, "Normal", max_conflicts=1)
        assert result.feasible or not result.decided, drop


@pytest.mark.parametrize(("fid", "shift"), [("f1.Stealing", 0.5), ("errors", 7)])
def test_a_nudged_figure_is_in_every_minimal_conflict(consistent, fid, shift):
    _, figs = consistent
    old = next(f.value for f in figs if f.id == fid)
    new = old + shift if isinstance(old, int) else pct(float(old.rstrip("%")) / 100 + shift / 100)
    bad = nudged(figs, fid, new)
    result = check(bad, CLASSES, "Normal", max_conflicts=2, small_budget_s=0)  # the chain of exclusions alone
    assert not result.feasible and result.matrix is None and result.decided
    assert 1 <= len(result.conflicts) <= 2
    assert fid in result.conflicts[0]
    for conflict in result.conflicts:
        assert_minimal(conflict, bad)
    assert len({tuple(c) for c in result.conflicts}) == len(result.conflicts)


# --- the write-up's slips ----------------------------------------------------------------------------------

def test_errors_and_accuracy_contradict_the_total():
    figs = [Figure("total", "total", 60635), Figure("errors", "errors", 423), Figure("accuracy", "accuracy", "99.38%")]
    result = check(figs, CLASSES, "Normal")
    assert not result.feasible
    assert result.conflicts == [["total", "errors", "accuracy"]]  # 1 - 423/60635 = 99.302%


def test_any_two_of_the_three_hold():
    figs = [Figure("total", "total", 60635), Figure("errors", "errors", 423), Figure("accuracy", "accuracy", "99.38%")]
    for drop in range(3):
        assert check(figs[:drop] + figs[drop + 1:], CLASSES, "Normal").feasible


def test_a_per_class_error_range_cannot_fit_the_total_errors():
    figs = [Figure("errors", "errors", 423),
            Figure("normal_to_abnormal", "cell_range", source="Normal", target="abnormal", low=35, high=89),
            Figure("abnormal_to_normal", "cell_range", source="abnormal", target="Normal", low=1, high=3)]
    result = check(figs, CLASSES, "Normal")
    assert not result.feasible
    assert result.conflicts[0] == ["errors", "normal_to_abnormal"]  # 13 x 35 = 455 > 423


def test_a_macro_figure_outside_what_the_per_class_figures_allow():
    figs = [Figure(f"recall.{name}", "recall", "99.00%", cls=name) for name in CLASSES]
    figs.append(Figure("macro_recall", "macro_recall", "90.00%"))
    result = check(figs, CLASSES, "Normal")
    assert not result.feasible
    assert "macro_recall" in result.conflicts[0]
    assert len(result.conflicts[0]) == 14  # 13 classes at 99% already average above 90%
    assert "exactly" in result.note


# --- errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("figure", "words"), [
    (Figure("x", "median_f1", "90%"), "unknown kind"),
    (Figure("x", "recall", "90%", cls="Jaywalking"), "Jaywalking"),
    (Figure("x", "accuracy"), "no value"),
    (Figure("x", "cell", 3, source="Normal", target="Normal"), "diagonal"),
    (Figure("x", "cell_range", source="Normal", target="abnormal"), "no value, low or high"),
    (Figure("x", "cell_max", source="Normal", target="abnormal"), "one cell"),
    (Figure("x", "accuracy", "about 99%"), "not a number"),
])
def test_bad_figures_raise_naming_the_figure(figure, words):
    with pytest.raises(HarnessError, match=words) as e:
        check([figure], CLASSES, "Normal")
    assert "figure 'x'" in str(e.value)


def test_bad_arguments_raise():
    with pytest.raises(HarnessError, match="normal class"):
        check([], CLASSES, "Background")
    with pytest.raises(HarnessError, match="twice"):
        check([Figure("a", "total", 5), Figure("a", "total", 5)], CLASSES, "Normal")


# --- every small conflict, told as arithmetic --------------------------------------------------------------

def test_every_conflict_of_at_most_three_figures_is_found():
    """Against the plain definition: every subset of at most 3 figures decided on its own, the infeasible ones
    none of whose proper subsets is infeasible."""
    from harness.judge.feasibility import INFEASIBLE, _decide

    figs = [Figure("total", "total", 60635), Figure("errors", "errors", 423), Figure("accuracy", "accuracy", "99.38%"),
            Figure("error_rate", "error_rate", "0.70%"),
            Figure("normal_to_abnormal", "cell_range", source="Normal", target="abnormal", low=35, high=89),
            Figure("support.Stealing", "support", 2118, cls="Stealing"),
            Figure("f1.Stealing", "f1", "99.62%", cls="Stealing"), Figure("f1.Arson", "f1", "98.00%", cls="Arson")]
    index = {name: i for i, name in enumerate(CLASSES)}
    infeasible = [set(s) for k in (1, 2, 3) for s in itertools.combinations(range(len(figs)), k)
                  if _decide([figs[i] for i in s], index, "Normal").status == INFEASIBLE]
    minimal = [s for s in infeasible if not any(t < s for t in infeasible)]
    result = check(figs, CLASSES, "Normal")
    assert result.small_complete and not result.feasible
    small = [set(figs_ids) for figs_ids in result.conflicts if len(figs_ids) <= 3]
    assert sorted(map(sorted, small)) == sorted(sorted(figs[i].id for i in s) for s in minimal)
    assert len(minimal) >= 4 and len(result.explanations) == len(result.conflicts)


def test_a_conflict_is_explained_by_the_bound_the_others_prove():
    figs = [Figure("errors", "errors", 423),
            Figure("normal_to_abnormal", "cell_range", source="Normal", target="abnormal", low=35, high=89)]
    result = check(figs, CLASSES, "Normal")
    assert result.explanations == ["The other figure needs the number of errors to be at least 455; the write-up prints 423."]
    over = check([Figure("total", "total", 1000), Figure("support.Arson", "support", 1200, cls="Arson")], CLASSES, "Normal")
    assert over.explanations == ["The other figure allows the support of Arson of at most 1,000; the write-up prints 1,200."]
