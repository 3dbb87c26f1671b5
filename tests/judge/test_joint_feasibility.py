"""The joint check of a write-up's evaluation figures (harness.judge.feasibility, HiGHS via scipy): a table made
from a real confusion matrix is feasible; the same table with one figure nudged is not, and the nudged
figure is named in a minimal conflict; the write-up's own slips are found."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from harness.errors import HarnessError
from harness.judge.feasibility import Figure, check, printed_interval

CLASSES = [f"C{i}" for i in range(6)]
NORMAL = "C0"


def real_table(seed: int = 0) -> tuple[np.ndarray, list[Figure]]:
    """A confusion matrix from labels and predictions, and every figure a write-up would print about it
    (percentages to two decimals, as printed)."""
    rng = np.random.default_rng(seed)
    supports = [3000, 400, 250, 180, 120, 60]
    y = np.repeat(np.arange(6), supports)
    yhat = y.copy()
    wrong = rng.random(len(y)) < 0.02
    yhat[wrong] = rng.integers(0, 6, wrong.sum())
    matrix = np.zeros((6, 6), int)
    np.add.at(matrix, (y, yhat), 1)
    pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
    p, r, f, _ = precision_recall_fscore_support(y, yhat, labels=range(6), zero_division=0)
    figures = [Figure("total", "total", int(len(y)))]
    figures += [Figure(f"support.{c}", "support", int(n), cls=c) for c, n in zip(CLASSES, supports, strict=True)]
    figures += [Figure("errors", "errors", int((y != yhat).sum())), Figure("accuracy", "accuracy", pct(accuracy_score(y, yhat)))]
    figures += [Figure(f"f1.{c}", "f1", pct(v), cls=c) for c, v in zip(CLASSES, f, strict=True)]
    figures += [Figure(f"recall.{CLASSES[1]}", "recall", pct(r[1]), cls=CLASSES[1]),
                Figure(f"precision.{CLASSES[2]}", "precision", pct(p[2]), cls=CLASSES[2])]
    off = matrix - np.diag(np.diag(matrix))
    top = np.unravel_index(off.argmax(), off.shape)
    figures += [Figure("top_error", "cell", int(off[top]), source=CLASSES[top[0]], target=CLASSES[top[1]]),
                Figure("most_common", "cell_max", source=CLASSES[top[0]], target=CLASSES[top[1]]),
                Figure("normal_to_abnormal", "cell_range", source=NORMAL, target="abnormal",
                       low=int(off[0, 1:].min()), high=int(off[0, 1:].max())),
                Figure("inter_abnormal", "block_sum", source="abnormal", target="abnormal", low=0,
                       high=int(off[1:, 1:].sum())),
                Figure("min_f1", "f1_min", f"{100 * np.floor(f.min() * 100) / 100:.0f}%"),
                Figure("macro_f1", "macro_f1", pct(f1_score(y, yhat, average="macro"))),
                Figure("macro_recall", "macro_recall", pct(r.mean())),
                Figure("weighted_f1", "weighted_f1", pct(f1_score(y, yhat, average="weighted")))]
    return matrix, figures


def test_printed_figures_carry_their_rounding():
    assert printed_interval("99.38%") == pytest.approx((0.99375, 0.99385))
    assert printed_interval("1.14") == pytest.approx((1.135, 1.145))
    assert printed_interval(423) == (423, 423)
    assert printed_interval("60,635") == (60635, 60635)  # a count


def test_a_table_from_a_real_confusion_matrix_is_feasible():
    matrix, figures = real_table()
    result = check(figures, CLASSES, NORMAL)
    assert result.feasible and result.conflicts == []
    witness = np.array(result.matrix)
    assert witness.sum() == matrix.sum() and (witness.sum(axis=1) == matrix.sum(axis=1)).all()
    assert witness.trace() == matrix.trace()  # the error count is exact


@pytest.mark.parametrize(("nudged", "value"), [("errors", +7), ("f1.C3", "nudge")])
def test_one_nudged_figure_is_named_in_a_minimal_conflict(nudged, value):
    _, figures = real_table()
    changed = []
    for f in figures:
        if f.id == nudged:
            if isinstance(value, int):
                f = Figure(f.id, f.kind, f.value + value)
            else:  # half a point higher than printed
                f = Figure(f.id, f.kind, f"{float(f.value[:-1]) + 0.5:.2f}%", cls=f.cls)
        changed.append(f)
    result = check(changed, CLASSES, NORMAL, max_conflicts=1, small_budget_s=0)  # the chain of exclusions alone
    assert not result.feasible and result.conflicts
    conflict = result.conflicts[0]
    assert nudged in conflict
    by_id = {f.id: f for f in changed}
    for member in conflict:  # minimal: without any one member the rest of the conflict can hold
        rest = [by_id[i] for i in conflict if i != member]
        assert check(rest, CLASSES, NORMAL, max_conflicts=1).feasible, member


def test_the_writeups_accuracy_and_error_count_cannot_both_hold():
    classes = [f"K{i}" for i in range(14)]
    figures = [Figure("total", "total", 60635), Figure("errors", "errors", 423), Figure("accuracy", "accuracy", "99.38%")]
    result = check(figures, classes, "K0")
    assert not result.feasible and sorted(result.conflicts[0]) == ["accuracy", "errors", "total"]
    # 1 - 423/60,635 = 99.302%: printed as 99.30% the three agree
    assert check([*figures[:2], Figure("accuracy", "accuracy", "99.30%")], classes, "K0").feasible


def test_a_range_over_every_class_beyond_the_total_is_infeasible():
    classes = [f"K{i}" for i in range(14)]
    figures = [Figure("errors", "errors", 423),
               Figure("range", "cell_range", source="K0", target="abnormal", low=35, high=89)]
    result = check(figures, classes, "K0")
    assert not result.feasible and sorted(result.conflicts[0]) == ["errors", "range"]  # 13 x 35 = 455 > 423


def test_a_macro_average_beyond_what_the_classes_allow_is_caught():
    _, figures = real_table()
    figures = [f for f in figures if f.kind != "macro_recall"] + [Figure("macro_recall", "macro_recall", "50.00%")]
    recalls = [Figure(f"recall.{c}", "recall", "99.00%", cls=c) for c in CLASSES]
    result = check([*recalls, figures[-1]], CLASSES, NORMAL, max_conflicts=1)
    assert not result.feasible and "macro_recall" in result.conflicts[0]


@pytest.mark.parametrize(("figure", "words"), [
    (Figure("x", "median", "1%"), "kind"),
    (Figure("x", "f1", "99%", cls="Nope"), "Nope"),
    (Figure("x", "accuracy"), "value"),
])
def test_bad_figures_are_one_sentence(figure, words):
    with pytest.raises(HarnessError, match=words) as caught:
        check([figure], CLASSES, NORMAL)
    assert "x" in str(caught.value) and "\n" not in str(caught.value)
