"""The audit report: gather every metric file, judge every claim, draw the figures, render the templates.

``collect`` reads what the pipeline wrote (tolerating missing pieces: a claim whose metric is missing is
inconclusive, never silently dropped); ``build_context`` turns it into what the templates show;
``render`` writes reports/report.html (self-contained: figures embedded as data URIs, print styles) and
reports/report.md (short enough for a pull-request comment).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from harness.claims import Registry
from harness.verdicts import default_classes, judge_registry

TEMPLATES = Path(__file__).resolve().parent / "templates"  # shipped inside the package
SYNTHETIC_NOTE = ("This run used the synthetic dataset. It demonstrates the leakage mechanism (a model that "
                  "memorises per-video scenes scores well when windows of one video sit on both sides of a split); "
                  "it does not measure UCF-Crime. Accuracy claims about UCF-Crime are not testable on it.")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def paper_model_facts() -> dict[str, Any]:
    """Parameter count and checkpoint size of the multi-task model at the write-up's dimensions
    (efficientnet_b0, built here without pretrained weights), measured: the weights alone, and the
    weights with AdamW's state after one step, serialised with torch.save."""
    import torch

    from harness.config import compose_params
    from harness.models import build_model, count_parameters

    params = yaml.safe_load(compose_params(["profile=paper"]))
    torch.manual_seed(0)
    model = build_model("multitask", params["model"]["multitask"], len(params["data"]["classes"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    out = model(torch.randint(0, 256, (1, 2, 3, 32, 32), dtype=torch.uint8))
    out["logits"].float().sum().backward()
    optimizer.step()

    def size(obj: Any) -> float:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return round(buffer.tell() / 1e6, 2)

    parameters = count_parameters(model)
    return {"parameters": parameters, "parameters_millions": round(parameters / 1e6, 4), "backbone": params["model"]["multitask"]["backbone"],
            "weights_megabytes": size(model.state_dict()),
            "checkpoint_megabytes": size({"model": model.state_dict(), "optimizer": optimizer.state_dict()})}


def collect(root: Path, reports: Path | None = None, model_facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every metric file of a pipeline run under ``root`` (the repository)."""
    root = Path(root)
    reports = Path(reports) if reports else root / "reports"
    evals = {}
    for path in sorted((root / "runs" / "eval").glob("*/metrics.json")):
        entry = {"metrics": _read_json(path)}
        predictions = path.parent / "predictions.csv"
        if predictions.is_file():
            entry["predictions"] = pd.read_csv(predictions, usecols=["actual", "predicted_class"])
        evals[path.parent.name] = entry
    train = {}
    for path in sorted((root / "runs").glob("*/*/summary.json")):
        if path.parent.parent.name in ("train", "control"):
            summary = _read_json(path) or {}
            summary.pop("history", None)
            train[f"{path.parent.parent.name}/{path.parent.name}"] = summary
    table = reports / "audit_table.csv"
    sweeps = reports / "sweeps.csv"
    return {
        "audit": _read_json(reports / "audit.json"),
        "audit_table": pd.read_csv(table) if table.is_file() else None,
        "sweeps": pd.read_csv(sweeps) if sweeps.is_file() and sweeps.stat().st_size > 0 else None,
        "bench": _read_json(root / "runs" / "bench" / "summary.json"),
        "bench_records": _read_json(root / "runs" / "bench" / "records.json") or [],
        "prepare": _read_json(root / "data" / "prepared" / "summary.json"),
        "probe": _read_json(root / "runs" / "probe" / "metrics.json"),
        "leakage": {p.parent.name: _read_json(p) for p in sorted((root / "data" / "splits").glob("*/leakage.json"))},
        "evals": evals,
        "train": train,
        "model": {"paper": model_facts if model_facts is not None else paper_model_facts()},
        "recipe_differences": _recipe_differences(root),
        "params": yaml.safe_load((root / "params.yaml").read_text()) if (root / "params.yaml").is_file() else {},
        "environment": environment(root),
    }


def _recipe_differences(root: Path) -> list[dict[str, Any]]:
    from harness.config import recipe_differences

    params_path = Path(root) / "params.yaml"
    profile = (yaml.safe_load(params_path.read_text()) or {}).get("run", {}).get("profile") if params_path.is_file() else None
    return recipe_differences(profile) if profile else []


def environment(root: Path) -> dict[str, Any]:
    """Where the run came from (runinfo's capture, for the repository at ``root``) and dvc.lock's outputs."""
    from harness.runinfo import git_state, hardware, library_versions

    lock = {}
    lock_path = Path(root) / "dvc.lock"
    if lock_path.is_file():
        for stage, body in (yaml.safe_load(lock_path.read_text()) or {}).get("stages", {}).items():
            outs = body.get("outs") or []
            lock[stage] = ", ".join(f"{Path(o['path']).name}:{(o.get('md5') or '')[:8]}" for o in outs)
    git = git_state(Path(root))
    return {"git_commit": git["commit"], "git_dirty": git["dirty"], "hardware": hardware(),
            "libraries": library_versions(), "dvc_lock": lock}


def bundle_of(collected: dict[str, Any]) -> dict[str, Any]:
    """The namespaces claims.yaml's metric names point into."""
    return {"audit": collected.get("audit") or {}, "bench": collected.get("bench") or {},
            "model": collected.get("model") or {}, "prepare": collected.get("prepare") or {}}


def run_context(collected: dict[str, Any]) -> dict[str, Any]:
    bench_env = (collected.get("bench") or {}).get("environment") or {}
    source = (collected.get("prepare") or {}).get("data_source") or collected.get("params", {}).get("data", {}).get("source")
    profile = (collected.get("params") or {}).get("run", {}).get("profile")
    return {"data_source": source or "unknown", "profile": profile or "unknown", "cuda": bench_env.get("device") == "cuda"}


# --------------------------------------------------------------------------- figures
def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def figures(collected: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, bytes] = {}
    table = collected.get("audit_table")
    if table is not None and len(table):
        groups = [(m, lab) for m, lab in table[["model", "labels"]].drop_duplicates().itertuples(index=False)]
        strategies = [s for s in ("frame", "video", "official") if s in set(table["strategy"])]
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        width = 0.8 / max(len(strategies), 1)
        colours = {"frame": "#c0392b", "video": "#2e86c1", "official": "#27ae60"}
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
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([m if lab == "true" else f"{m}\n(shuffled labels)" for m, lab in groups])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("window accuracy (95% CI)")
        ax.set_title("Accuracy by split strategy; dotted: majority-class floor")
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


# --------------------------------------------------------------------------- context and rendering
def build_context(collected: dict[str, Any], registry: Registry, images: dict[str, bytes],
                  writeup: list[str]) -> dict[str, Any]:
    """What the templates show; ``writeup`` is the audited write-up's lines (claims are located in it)."""
    context = run_context(collected)
    params = collected.get("params") or {}
    classes = list(params.get("data", {}).get("classes") or []) or default_classes()
    judged = judge_registry(registry, writeup, classes, bundle_of(collected), context)
    rows = judged["verdicts"]
    table = collected.get("audit_table")
    sweeps = collected.get("sweeps")
    bench = collected.get("bench") or {}
    return {
        "context": context,
        "synthetic": context["data_source"] == "synthetic",
        "synthetic_note": SYNTHETIC_NOTE,
        "profile": params.get("run", {}).get("profile", "unknown"),
        "recipe": params.get("run", {}).get("recipe", "writeup"),
        "recipe_differences": collected.get("recipe_differences") or [],
        "verdicts": rows,
        "counts": judged["counts"],
        "findings": judged["findings"],
        "finding_counts": judged["finding_counts"],
        "feasibility": judged["feasibility"],
        "coverage": judged["coverage"],
        "coverage_summary": judged["coverage_summary"],
        "review": judged["review"],
        "judged": judged,
        "audit_rows": table.to_dict("records") if table is not None else [],
        "sweep_rows": sweeps.to_dict("records") if sweeps is not None else [],
        "drops": ((collected.get("audit") or {}).get("drops")) or {},
        "leakage": collected.get("leakage") or {},
        "probe": collected.get("probe") or {},
        "probe_params": params.get("probe", {}),
        "speed": bench.get("claims") or {},
        "bench_records": collected.get("bench_records") or [],
        "bench_env": bench.get("environment") or {},
        "flops": bench.get("flops") or {},
        "augment": bench.get("augment") or {},
        "train": collected.get("train") or {},
        "model_paper": (collected.get("model") or {}).get("paper") or {},
        "environment": collected.get("environment") or {},
        "images": {k: base64.b64encode(v).decode() for k, v in images.items()},
        "image_names": sorted(images),
        "params_model": params.get("model", {}),
        "train_params": params.get("train", {}),
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "n/a"
        if float(value).is_integer() and abs(value) >= 1000:
            return f"{value:,.0f}"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def _printed(value: Any) -> str:
    """A claimed figure as the write-up printed it ("99.38%"), a range as low-high, an exact number formatted."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "-".join(_printed(v) for v in value)
    return _fmt(value, 6)


def environment_for_templates():
    from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _fmt
    env.filters["figure"] = _printed
    env.filters["slug"] = lambda s: "".join(c if c.isalnum() else "-" for c in s.lower())
    return env


def render(context: dict[str, Any]) -> tuple[str, str]:
    """(html, markdown)."""
    env = environment_for_templates()
    html = env.get_template("report.html.j2").render(**context)
    md_env = environment_for_templates()
    md_env.autoescape = False
    markdown = md_env.get_template("report.md.j2").render(**context)
    return html, markdown
