"""The report's figures, drawn with matplotlib from what the stages wrote: accuracy by split strategy, speed
ratios, confusion matrices, the near-duplicate rate against chance by Hamming radius, and the gap curve."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

# one colour per split strategy, in the order the report lists them (harness.config.SplitStrategy's names)
STRATEGY_COLOURS = {"frame": "#c0392b", "gap": "#e67e22", "video": "#2e86c1", "official": "#27ae60"}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def figures(collected: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.report.headline import spreads
    from harness.report.render import run_context

    out: dict[str, bytes] = {}
    table = collected.get("audit_table")
    spread = spreads(collected.get("sweeps"), run_context(collected))
    if table is not None and len(table):
        groups = [(m, lab) for m, lab in table[["model", "labels"]].drop_duplicates().itertuples(index=False)]
        strategies = [s for s in STRATEGY_COLOURS if s in set(table["strategy"])]
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        width = 0.8 / max(len(strategies), 1)
        legend_has_seeds = False
        colours = STRATEGY_COLOURS
        for j, strategy in enumerate(strategies):
            for i, (model, labels) in enumerate(groups):
                row = table[(table.model == model) & (table.labels == labels) & (table.strategy == strategy)]
                if row.empty:
                    continue
                r = row.iloc[0]
                x = i + (j - (len(strategies) - 1) / 2) * width
                ax.bar(x, r.accuracy, width * 0.9, color=colours[strategy], label=strategy if i == 0 else None)
                ax.errorbar(x, r.accuracy, yerr=[[r.accuracy - r.accuracy_ci_low], [r.accuracy_ci_high - r.accuracy]],
                            color="black", capsize=3, lw=1)
                ax.hlines(r.majority_class_rate, x - width / 2, x + width / 2, colors="black", linestyles="dotted")
                seeds = spread.get(("control" if labels != "true" else model, strategy))
                if seeds and seeds["n"] > 1:  # the committed sweep's range across seeds, and its mean
                    ax.vlines(x + width * 0.3, seeds["min"], seeds["max"], colors="dimgray", lw=3, alpha=0.7,
                              label="range over seeds" if not legend_has_seeds else None)
                    ax.plot(x + width * 0.3, seeds["mean"], marker="D", color="white", mec="black", ms=4)
                    legend_has_seeds = True
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([m if lab == "true" else f"{m}\n(shuffled labels)" for m, lab in groups])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("window accuracy (95% CI)")
        ax.set_title("Accuracy by split strategy; dotted: majority-class floor"
                     + ("; grey: range over seeds (diamond: mean)" if legend_has_seeds else ""), fontsize=10)
        ax.legend(title="split", loc="upper right", fontsize=8)
        out["accuracy_by_split.png"] = _png(fig)
        plt.close(fig)

    claims = ((collected.get("bench") or {}).get("claims")) or {}
    measured = {k: v for k, v in claims.items() if v.get("ratio") is not None}
    if measured:
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(measured) + 1))
        names = list(measured)
        for i, name in enumerate(names):
            v = measured[name]
            ax.errorbar(v["ratio"], i, xerr=[[v["ratio"] - v["ci_low"]], [v["ci_high"] - v["ratio"]]], fmt="o",
                        color="#2e86c1", capsize=3)
        ax.axvline(1.0, color="grey", lw=1)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("speed ratio (log scale; >1 faster), 95% CI over interleaved rounds")
        out["speed_ratios.png"] = _png(fig)
        plt.close(fig)

    out.update(leakage_figures(collected, plt))
    class_names = collected.get("params", {}).get("data", {}).get("classes") or []
    for name, entry in collected.get("evals", {}).items():
        predictions = entry.get("predictions")
        if predictions is None or not name.startswith("multitask-"):
            continue
        labels = class_names or sorted(set(predictions["actual"]) | set(predictions["predicted_class"]))
        matrix = pd.crosstab(predictions["actual"], predictions["predicted_class"]).reindex(
            index=labels, columns=labels, fill_value=0).to_numpy()
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        ax.imshow(np.log1p(matrix), cmap="Blues")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([lab[:8] for lab in labels], rotation=90, fontsize=6)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels([lab[:10] for lab in labels], fontsize=6)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(f"{name} (windows; log colour)", fontsize=9)
        out[f"confusion_{name}.png"] = _png(fig)
        plt.close(fig)
    return out


def leakage_figures(collected: dict[str, Any], plt) -> dict[str, bytes]:
    """The near-duplicate rate against chance by radius, and the gap curve, when the stages wrote them."""
    out = {}
    leakage = collected.get("leakage") or {}
    curves = {s: (leakage[s] or {}).get("test") or {} for s in STRATEGY_COLOURS if s in leakage}
    curves = {s: c for s, c in curves.items() if c.get("near_duplicate_rate_by_radius")}
    if curves:
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        for strategy, record in curves.items():
            near, chance = record["near_duplicate_rate_by_radius"], record["chance_rate_by_radius"]
            radii = sorted(int(r) for r in near)
            colour = STRATEGY_COLOURS[strategy]
            ax.plot(radii, [near[str(r)] for r in radii], "-o", ms=3, color=colour, label=f"{strategy}: any training frame")
            ax.plot(radii, [chance[str(r)] for r in radii], "--", color=colour, label=f"{strategy}: chance")
        radius = (collected.get("params") or {}).get("leakage", {}).get("hamming_radius")
        if radius is not None:
            ax.axvline(radius, color="grey", lw=1, ls=":")
        ax.set_xlabel("Hamming radius (bits of the 64-bit pHash)")
        ax.set_ylabel("share of evaluation frames")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("Near-duplicate rate by radius; dashed: chance (other classes and other videos only)", fontsize=9)
        ax.legend(fontsize=7, ncol=2, loc="center right")
        out["near_duplicates_by_radius.png"] = _png(fig)
        plt.close(fig)

    gap = ((collected.get("probe") or {}).get("gap_curve")) or {}
    rows = [r for r in (gap.get("by_gap") or {}).values() if r.get("windows")]
    if rows:
        rows.sort(key=lambda r: r["gap"])
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        x = np.arange(len(rows))
        acc = np.array([r["accuracy"] for r in rows])
        err = [acc - [r["accuracy_ci_low"] for r in rows], [r["accuracy_ci_high"] for r in rows] - acc]
        ax.errorbar(x, acc, yerr=err, fmt="-o", color=STRATEGY_COLOURS["gap"], capsize=3, label="1-NN probe on gap")
        trained_at = (collected.get("params") or {}).get("splits", {}).get("gap", {}).get("frames")
        table = collected.get("audit_table")
        if table is not None and trained_at in [r["gap"] for r in rows]:
            at = [r["gap"] for r in rows].index(trained_at)
            trained = table[(table["strategy"] == "gap") & (table["labels"] == "true") & (table["model"] != "nearest_neighbour")]
            for k, r in enumerate(trained.itertuples(index=False)):
                ax.errorbar(at + 0.1 * (k + 1), r.accuracy, yerr=[[r.accuracy - r.accuracy_ci_low], [r.accuracy_ci_high - r.accuracy]],
                            fmt="sd"[k % 2], ms=5, capsize=2, color=("#6c3483", "#17202a")[k % 2],
                            label=f"{r.model} trained on gap ({trained_at} PNGs)")
        for strategy, end in (gap.get("ends") or {}).items():
            ax.axhspan(end["accuracy_ci_low"], end["accuracy_ci_high"], color=STRATEGY_COLOURS.get(strategy, "grey"),
                       alpha=0.15)
            ax.axhline(end["accuracy"], color=STRATEGY_COLOURS.get(strategy, "grey"), lw=1,
                       label=f"1-NN probe on {strategy} (band: 95% CI)")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{r['gap']}\n{r['videos']} v / {r['classes']} cl" for r in rows], fontsize=7)
        ax.set_xlabel("gap between a video's training and evaluation windows (PNGs); evaluated videos / classes")
        ax.set_ylabel("window accuracy")
        ax.set_ylim(-0.02, 1.05)
        ax.set_title("Score against gap (no frame shared at any gap); lines: the frame and video splits' scores", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        out["gap_curve.png"] = _png(fig)
        plt.close(fig)
    return out
