"""The audit report: gather every metric file, judge every claim, draw the figures, render the templates.

``collect`` reads what the pipeline wrote (tolerating missing pieces: a claim whose metric is missing is
inconclusive, never silently dropped); ``build_context`` turns it into what the templates show;
``render`` writes reports/report.html (self-contained: figures embedded as data URIs, print styles) and
reports/report.md (short enough for a pull-request comment).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from harness.config import skipped
from harness.errors import HarnessError
from harness.judge.claims import Registry
from harness.judge.verdicts import default_classes, judge_registry
from harness.report.gpu_results import latest_result
from harness.report.headline import spreads, verdict_block

TEMPLATES = Path(__file__).resolve().parent / "templates"  # shipped inside the package
SYNTHETIC_NOTE = ("This run used the synthetic dataset. It demonstrates the leakage mechanism (a model that "
                  "memorises per-video scenes scores well when windows of one video sit on both sides of a split); "
                  "it does not measure UCF-Crime. Accuracy claims about UCF-Crime are not testable on it.")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@dataclass(frozen=True)
class ReportInputs:
    """Every file and folder the report reads. The report stage gets each one on its command line from
    dvc.yaml (the only place paths are written); a missing one is one clear error, never a silent gap."""

    audit: Path          # reports/audit.json (scores, drops)
    audit_table: Path    # reports/audit_table.csv
    sweeps: Path         # reports/sweeps.csv (may be empty: no sweep finished)
    bench: Path          # the benchmark stage's folder: summary.json, records.json
    probe: Path          # the probe stage's metrics.json
    prepared: Path       # the prepare stage's summary.json
    splits: Path         # the split stages' folder: <strategy>/leakage.json
    evals: Path          # the train stages' evaluation folders: <run>/metrics.json, predictions.csv
    runs: Path           # train/<run>/summary.json and control/<strategy>/summary.json
    params: Path         # params.yaml
    gpu_results: Path    # make gpu-check's committed results (results/gpu; the newest is shown)
    repo: Path           # the repository (git state, dvc.lock, requirements.lock)

    def require(self) -> None:
        needed = {self.audit: "the audit stage's metrics", self.audit_table: "the audit stage's table",
                  self.bench / "summary.json": "the benchmark stage's summary", self.bench / "records.json":
                  "the benchmark stage's records", self.probe: "the probe stage's metrics",
                  self.prepared: "the prepare stage's summary", self.params: "the composed parameters"}
        for path, what in needed.items():
            if not Path(path).is_file():
                raise HarnessError(f"the report needs {path} ({what}); run `dvc repro` to produce it")
        for folder in (self.splits, self.evals, self.runs, self.gpu_results):
            if not Path(folder).is_dir():
                raise HarnessError(f"the report needs the folder {folder}; run `dvc repro` to produce it")


def collect(inputs: ReportInputs) -> dict[str, Any]:
    """Every metric file of a pipeline run (see ReportInputs)."""
    inputs.require()
    leakage = {p.parent.name: _read_json(p) or {} for p in sorted(Path(inputs.splits).glob("*/leakage.json"))}
    # a strategy that does not apply to the data (the split stage's reason): shown as such, nothing else of it read
    not_applicable = {strategy: record["not_applicable"] for strategy, record in leakage.items()
                      if record.get("not_applicable")}
    evals = {}
    for path in sorted(Path(inputs.evals).glob("*/metrics.json")):
        entry = {"metrics": _read_json(path)}
        if skipped(entry["metrics"] or {}):
            continue
        predictions = path.parent / "predictions.csv"
        if predictions.is_file():
            entry["predictions"] = pd.read_csv(predictions, usecols=["actual", "predicted_class"])
        evals[path.parent.name] = entry
    train = {}
    for kind in ("train", "control"):
        for path in sorted((Path(inputs.runs) / kind).glob("*/summary.json")):
            summary = _read_json(path) or {}
            if skipped(summary):
                continue
            summary.pop("history", None)
            train[f"{kind}/{path.parent.name}"] = summary
    sweeps = Path(inputs.sweeps)
    params = yaml.safe_load(Path(inputs.params).read_text()) or {}
    bench = _read_json(Path(inputs.bench) / "summary.json") or {}
    return {
        "audit": _read_json(inputs.audit),
        "audit_table": pd.read_csv(inputs.audit_table),
        "sweeps": pd.read_csv(sweeps) if sweeps.is_file() and sweeps.stat().st_size > 0 else None,
        "bench": bench,
        "bench_records": _read_json(Path(inputs.bench) / "records.json") or [],
        "prepare": _read_json(inputs.prepared),
        "probe": _read_json(inputs.probe),
        "leakage": {strategy: record for strategy, record in leakage.items() if strategy not in not_applicable},
        "leak_videos": {p.parent.name: pd.read_csv(p) for p in sorted(Path(inputs.splits).glob("*/leak_videos.csv"))
                        if p.parent.name not in not_applicable},
        "galleries": {p.parent.parent.name: gallery_of(p) for p in sorted(Path(inputs.splits).glob("*/gallery/gallery.csv"))
                      if p.parent.parent.name not in not_applicable},
        "not_applicable": not_applicable,
        "evals": evals,
        "train": train,
        "model": bench.get("model") or {},
        "recipe_differences": _recipe_differences(params),
        "params": params,
        "environment": environment(inputs.repo),
        "gpu_check": latest_result(inputs.gpu_results),
    }


def gallery_of(table_path: Path) -> list[dict[str, Any]]:
    """A split stage's gallery (harness.leakage.gallery): each pair's row with its PNG, base64-encoded for embedding."""
    table = pd.read_csv(table_path) if table_path.stat().st_size > 1 else pd.DataFrame()
    return [{**row, "image": base64.b64encode((table_path.parent / row["file"]).read_bytes()).decode()}
            for row in table.to_dict("records")]


def top_leaking_videos(leak_videos: dict[str, pd.DataFrame], n: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Per split, the ``n`` evaluation videos (of the scored set) with the largest near-duplicate share."""
    out = {}
    for strategy, table in leak_videos.items():
        scored = table[table["role"] == "test"] if "test" in set(table["role"]) else table
        out[strategy] = scored.sort_values(["near_duplicate_share", "video_id"], ascending=[False, True]).head(n).to_dict("records")
    return out


def _recipe_differences(params: dict[str, Any]) -> list[dict[str, Any]]:
    from harness.config import recipe_differences

    profile = params.get("run", {}).get("profile")
    return recipe_differences(profile) if profile else []


# files every run reads besides its stages' declared deps: the pipeline itself and the pinned environment
RUN_INPUTS = ("dvc.yaml", "params.yaml", "requirements.lock", "pyproject.toml")


def run_inputs(lock: dict[str, Any]) -> set[str]:
    """The tracked inputs of a run: every stage's deps and params files in dvc.lock, and RUN_INPUTS."""
    paths = set(RUN_INPUTS)
    for body in (lock.get("stages") or {}).values():
        paths |= {d["path"] for d in body.get("deps") or [] if "path" in d}
        paths |= set(body.get("params") or {})
    return paths


def changed_inputs(root: Path, inputs: set[str]) -> list[str] | None:
    """Tracked files that differ from the commit and are inputs of the run (a file named in ``inputs`` or
    inside a folder named there); None when git cannot tell. Outputs the run itself rewrites (dvc.lock,
    results/, sweeps/results/, the README's generated block) are not inputs and are never listed."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--no-renames"], cwd=root,
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    changed = [line[3:].strip().strip('"') for line in out.splitlines() if line.strip()]
    folders = tuple(p.rstrip("/") + "/" for p in inputs)
    return sorted(p for p in changed if p in inputs or p.startswith(folders))


def environment(root: Path) -> dict[str, Any]:
    """Where the run came from (runinfo's capture, for the repository at ``root``), the tracked inputs that
    differ from its commit, and dvc.lock's outputs."""
    from harness.runtime.runinfo import git_state, hardware, library_versions

    lock = {}
    lock_path = Path(root) / "dvc.lock"
    lock_doc = (yaml.safe_load(lock_path.read_text()) or {}) if lock_path.is_file() else {}
    for stage, body in lock_doc.get("stages", {}).items():
        outs = body.get("outs") or []
        lock[stage] = ", ".join(f"{Path(o['path']).name}:{(o.get('md5') or '')[:8]}" for o in outs)
    git = git_state(Path(root))
    changed = changed_inputs(Path(root), run_inputs(lock_doc)) if git["commit"] else None
    pins = Path(root) / "requirements.lock"  # the pinned environment make setup installs
    return {"git_commit": git["commit"], "git_dirty": bool(changed), "changed_inputs": changed or [],
            "hardware": hardware(),
            "libraries": library_versions(), "dvc_lock": lock,
            "requirements_lock_sha256": hashlib.sha256(pins.read_bytes()).hexdigest() if pins.is_file() else None}


def bundle_of(collected: dict[str, Any]) -> dict[str, Any]:
    """The namespaces claims.yaml's metric names point into."""
    return {"audit": collected.get("audit") or {}, "bench": collected.get("bench") or {},
            "model": collected.get("model") or {}, "prepare": collected.get("prepare") or {}}


def run_context(collected: dict[str, Any]) -> dict[str, Any]:
    bench_env = (collected.get("bench") or {}).get("environment") or {}
    source = (collected.get("prepare") or {}).get("data_source") or collected.get("params", {}).get("data", {}).get("source")
    profile = (collected.get("params") or {}).get("run", {}).get("profile")
    return {"data_source": source or "unknown", "profile": profile or "unknown", "cuda": bench_env.get("device") == "cuda"}


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
        "verdict": verdict_block(judged, registry.extra, collected.get("audit"), sweeps, context),
        "spreads": {f"{group}/{split}": s for (group, split), s in spreads(sweeps, context).items()},
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
        "not_applicable": collected.get("not_applicable") or {},
        # a model-free audit: what did not run, said at the top (the stages' own sentence)
        "not_run": (collected.get("audit") or {}).get("not_run") or bench.get("not_run"),
        "leakage_radius": params.get("leakage", {}).get("hamming_radius"),
        "leak_videos": top_leaking_videos(collected.get("leak_videos") or {}),
        "galleries": collected.get("galleries") or {},
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
        "gpu_check": collected.get("gpu_check"),
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


def _share(value: float | None, rounding: str = "nearest") -> str:
    """A share as a percentage a reader can trust: one decimal, never rounded up to 100%, and rounded down
    where it is a lower bound (``rounding="down"``)."""
    if value is None:
        return "n/a"
    if 0.9999 <= value < 1:
        return "over 99.99%"
    tenths = value * 1000
    shown = math.floor(tenths + 1e-9) if rounding == "down" else round(tenths)
    if rounding != "down" and shown == 1000 and value < 1:
        return "over 99.9%"
    return f"{shown / 10:.1f}%"


def _accuracy(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


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
    env.filters["share"] = _share
    env.filters["acc"] = _accuracy
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
