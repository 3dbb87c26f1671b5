"""The report rendered from fixed metric files, and opened in a real headless browser."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, write_rgb_png
from markupsafe import escape

from harness.errors import HarnessError
from harness.judge.claims import load_registry
from harness.leakage.gallery import write_gallery
from harness.report.figures import figures
from harness.report.render import TEMPLATES, ReportInputs, build_context, collect, environment_for_templates, render

ARTIFACTS = Path(os.environ.get("HARNESS_TEST_ARTIFACTS", REPO / "reports" / "test-artifacts"))
WRITEUP = (REPO / "writeup" / "training-methodology.md").read_text().splitlines()
MODEL_FACTS = {"parameters": 14_052_499, "parameters_millions": 14.0525, "backbone": "efficientnet_b0", "weights_megabytes": 56.5,
               "checkpoint_megabytes": 169.4}


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, pd.DataFrame):
        data.to_csv(path, index=False)
    else:
        path.write_text(json.dumps(data))


@pytest.fixture
def fixed_run(tmp_path) -> Path:
    """A pipeline's metric files, written by hand: what the report reads, nothing more."""
    root = tmp_path / "run"
    root.mkdir()
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    rows = []
    for model, labels, strategy, acc, low, high, floor in [
        ("multitask", "true", "frame", 0.91, 0.85, 0.96, 0.82), ("multitask", "true", "video", 0.47, 0.24, 0.68, 0.82),
        ("multitask", "true", "official", 0.18, 0.01, 0.35, 0.76),
        ("baseline", "shuffled across videos", "frame", 0.82, 0.74, 0.89, 0.39)]:
        rows.append({"model": model, "labels": labels, "strategy": strategy, "eval_set": "test", "data_source": "synthetic",
                     "windows": 500, "videos": 20, "accuracy": acc, "accuracy_ci_low": low, "accuracy_ci_high": high,
                     "majority_class_rate": floor, "accuracy_above_floor": low > floor, "macro_f1": acc - 0.1,
                     "macro_f1_ci_low": low - 0.1, "macro_f1_ci_high": high - 0.1, "video_accuracy": acc,
                     "video_accuracy_ci_low": low, "video_accuracy_ci_high": high, "video_majority_class_rate": floor,
                     "videos_shared_with_train": 20 if strategy == "frame" else 0,
                     "windows_sharing_at_least_1_frames": 1.0 if strategy == "frame" else 0.0,
                     "near_duplicate_rate": 0.99 if strategy == "frame" else 0.0})
    write(root / "reports" / "audit_table.csv", pd.DataFrame(rows))
    write(root / "reports" / "audit.json", {"data_source": "synthetic", "profile": "cpu", "scores": {"multitask": {
        "frame": {"accuracy": 0.91, "accuracy_ci_low": 0.85, "accuracy_ci_high": 0.96, "macro_f1": 0.81,
                  "macro_f1_ci_low": 0.7, "macro_f1_ci_high": 0.9, "majority_class_rate": 0.82},
        "video": {"accuracy": 0.47, "accuracy_ci_low": 0.24, "accuracy_ci_high": 0.68, "majority_class_rate": 0.82},
        "official": {"accuracy": 0.18, "accuracy_ci_low": 0.01, "accuracy_ci_high": 0.35, "majority_class_rate": 0.76}},
        "nearest_neighbour": {
        "frame": {"accuracy": 1.0, "accuracy_ci_low": 1.0, "accuracy_ci_high": 1.0, "majority_class_rate": 0.82},
        "video": {"accuracy": 0.11, "accuracy_ci_low": 0.0, "accuracy_ci_high": 0.21, "majority_class_rate": 0.82},
        "official": {"accuracy": 0.38, "accuracy_ci_low": 0.13, "accuracy_ci_high": 0.59, "majority_class_rate": 0.76}}},
        "drops": {"multitask": {"frame_minus_video_accuracy": {"difference": 0.44, "ci_low": 0.2, "ci_high": 0.66,
                                                               "paired": True, "shared_videos": 12}}}})
    write(root / "runs" / "bench" / "summary.json", {
        "claims": {"bf16_train_step": {"ratio": 0.12, "ci_low": 0.11, "ci_high": 0.14, "status": "measured",
                                       "arms": "train_step_bf16-amp / train_step_fp32"},
                   "fp16_train_step": {"ratio": None, "ci_low": None, "ci_high": None, "status": "not testable here",
                                       "why": "fp16 needs CUDA", "stand_in": "bf16_train_step"},
                   "loader_tuned": {"ratio": 1.4, "ci_low": 1.36, "ci_high": 1.52, "status": "measured",
                                    "arms": "workers_2_tuned / workers_0"}},
        "augment": {"albumentations_ms_per_image_64": 0.6}, "flops": {"flops_per_step": 1.4e9},
        "model": {"paper": MODEL_FACTS},
        "environment": {"device": "cpu", "device_name": "x86_64", "torch": "2.x", "threads": 2}})
    write(root / "runs" / "bench" / "records.json", [
        {"workload": "precision", "arm": "train_step_fp32", "model": "multitask", "batch_size": 4, "precision": "fp32",
         "samples_per_s": 50.0, "iqr_over_median": 0.04, "noisy": False, "repeats": 5}])
    write(root / "data" / "prepared" / "summary.json", {"data_source": "synthetic", "normal_frame_share": 0.73})
    curve = {str(r): min(1.0, 0.9 + 0.01 * r) for r in range(13)}
    chance = {str(r): round(0.002 * r * r, 4) for r in range(13)}
    write(root / "data" / "splits" / "frame" / "leakage.json", {"strategy": "frame", "hamming_radius": 4, "test": {
        "videos_shared_with_train": 20, "windows_sharing_at_least_1_frames": 1.0, "windows_sharing_at_least_8_frames": 0.98,
        "near_duplicate_rate": 0.99, "majority_class_rate": 0.82, "chance_rate": 0.032, "excess_over_chance": 0.958,
        "excess_over_chance_ci_low": 0.93, "excess_over_chance_ci_high": 0.97, "near_duplicates_in_same_video": 1.0,
        "near_duplicate_rate_by_radius": curve, "chance_rate_by_radius": chance},
        "exact_duplicates": {"groups": 1, "frames": 2, "pairs_by_role": {"train/test": {"pairs": 3, "cross_video_pairs": 2}}}})
    write(root / "data" / "splits" / "frame" / "leak_videos.csv", pd.DataFrame([
        {"role": "test", "video_id": f"Abuse00{i}_x264", "class_name": "Abuse", "frames": 40, "near_duplicate_frames": 40 - i,
         "near_duplicate_share": (40 - i) / 40, "chance_share": 0.0, "top_train_video": f"Abuse00{i}_x264",
         "top_train_video_frames": 40 - i, "same_video": True} for i in range(7)]))
    frames = {name: write_rgb_png(root / "frames" / f"{name}.png", np.full((64, 64, 3), 40 * k, np.uint8))
              for k, name in enumerate(("e0", "t0", "e1", "t1"))}
    pairs = pd.DataFrame({"role": "test", "eval_video": ["Abuse001_x264", "Arson002_x264"], "eval_frame": [3, 7],
                          "train_video": ["Abuse001_x264", "Shooting004_x264"], "train_frame": [1, 9], "distance": [2, 3],
                          "eval_class": ["Abuse", "Arson"], "train_class": ["Abuse", "Shooting"], "same_video": [True, False],
                          "same_frame": [False, False], "eval_path": [str(frames["e0"]), str(frames["e1"])],
                          "train_path": [str(frames["t0"]), str(frames["t1"])]})
    write_gallery(pairs, root / "data" / "splits" / "frame" / "gallery", n=8, image_size=64)
    write(root / "runs" / "eval" / "multitask-frame" / "metrics.json", {"model": "multitask", "strategy": "frame"})
    write(root / "runs" / "eval" / "multitask-frame" / "predictions.csv",
          pd.DataFrame({"actual": ["Abuse", "NormalVideos", "<b>Arson</b>"], "predicted_class": ["Abuse", "Abuse", "Arson"]}))
    write(root / "runs" / "probe" / "metrics.json", {"gap_curve": {
        "by_gap": {f"gap_{g}": {"gap": g, "windows": 100, "videos": 10, "classes": 3, "accuracy": a, "accuracy_ci_low": a - 0.05,
                                "accuracy_ci_high": min(1.0, a + 0.05)} for g, a in ((0, 0.95), (16, 0.9), (36, 0.7))},
        "ends": {"frame": {"accuracy": 1.0, "accuracy_ci_low": 1.0, "accuracy_ci_high": 1.0},
                 "video": {"accuracy": 0.1, "accuracy_ci_low": 0.0, "accuracy_ci_high": 0.2}}}})
    write(root / "runs" / "train" / "multitask-frame" / "summary.json",
          {"backbone": "test_efficientnet", "parameters": 2_174_739, "epochs_run": 6, "history": [{"epoch": 1}]})
    (root / "results" / "gpu").mkdir(parents=True)
    return root


def inputs_under(root: Path) -> ReportInputs:
    """Where dvc.yaml puts each input, under ``root``."""
    return ReportInputs(audit=root / "reports/audit.json", audit_table=root / "reports/audit_table.csv",
                        sweeps=root / "reports/sweeps.csv", bench=root / "runs/bench", probe=root / "runs/probe/metrics.json",
                        prepared=root / "data/prepared/summary.json", splits=root / "data/splits", evals=root / "runs/eval",
                        runs=root / "runs", params=root / "params.yaml", gpu_results=root / "results/gpu", repo=root)


def rendered(root: Path, claims_path: Path = REPO / "reports" / "claims.yaml", writeup: list[str] = WRITEUP):
    registry = load_registry(claims_path)
    collected = collect(inputs_under(root))
    context = build_context(collected, registry, figures(collected), writeup)
    html, markdown = render(context)
    return registry.claims, context, html, markdown


def test_every_claim_appears_with_its_verdict_and_evidence(fixed_run):
    claims, context, html, markdown = rendered(fixed_run)
    for claim in claims:
        row = re.search(rf'<tr id="claim-{re.escape("".join(c if c.isalnum() else "-" for c in claim.id.lower()))}">(.*?)</tr>',
                        html, re.S)
        assert row, claim.id
        verdict = next(v for v in context["verdicts"] if v["id"] == claim.id)
        assert str(escape(verdict["verdict"])) in row.group(1)
        assert str(escape(verdict["rule"])) in row.group(1)
        assert str(escape(claim.source)) in row.group(1) and f"line {verdict['line']}" in row.group(1)  # the write-up's words
        assert str(escape(claim.reading)) in row.group(1)  # and, separately, how they are read
        if claim.check == "methodology":  # a condition: holds or not, never a number with a unit
            assert re.search(r"<td>(holds|does not hold|undecided)</td>", row.group(1)), claim.id
        assert f"`{claim.id}`" in markdown
    assert sum(context["counts"].values()) == len(claims)
    assert sum(len(f["claims"]) for f in context["findings"]) == len(claims)
    headline = re.search(r'<table class="summary" id="finding-summary">(.*?)</table>', html, re.S).group(1)
    assert "material" in headline and "minor" in headline


def test_report_reads_the_fixed_metrics(fixed_run):
    _, context, html, markdown = rendered(fixed_run)
    by_id = {v["id"]: v for v in context["verdicts"]}
    assert by_id["speed.fp16"]["verdict"] == "not testable here"
    assert by_id["speed.fp16"]["stand_in"]["value"] == 0.12
    assert by_id["model.parameters"]["measured"] == 14.0525
    assert by_id["accuracy.test"]["verdict"] == "not comparable at this run's scale"  # synthetic data, cpu profile
    assert by_id["accuracy.test"]["stand_in"]["value"] == 0.91  # this run's figure beside the claim, not judged
    assert "this run (not judged)" in html
    assert "does not measure UCF-Crime" in html and "does not measure UCF-Crime" in markdown
    assert "0.91 [0.85, 0.96]" in html and "0.47 [0.24, 0.68]" in markdown
    assert "frame_minus_video_accuracy" in html and "paired over 12 shared videos" in html
    assert html.count("data:image/png;base64,") >= 2  # the accuracy figure and a confusion matrix, embedded
    assert 'src="http' not in html and "<link" not in html  # self-contained
    assert len(markdown) < 65_000  # GitHub's comment limit


def test_untrusted_text_is_escaped(fixed_run, tmp_path):
    registry = tmp_path / "claims.yaml"
    registry.write_text("claims:\n- id: x.script\n  section: '1.1 <i>'\n  reading: '<script>alert(1)</script>'\n"
                        "  source: '<b>quoted</b>'\n  check: methodology\n  inputs: {a: 1}\n  expression: a == 1\n")
    _, _, html, _ = rendered(fixed_run, registry, ["<b>quoted</b> in the write-up"])
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def chromium() -> str:
    """The system's chromium (`make test` installs it when missing and it can); the test skips without it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no chromium for the headless-browser test: `make browser` (or `sudo apt-get install chromium`)")
    return found


@pytest.mark.browser
def test_report_opens_in_headless_chromium(fixed_run, tmp_path):
    write(fixed_run / "reports" / "sweeps.csv", sweep_rows(  # the verdict block at its tallest: every score with a spread
        multitask_frame=(0.95, 0.03, 0.91, 0.98), multitask_video=(0.40, 0.2, 0.2, 0.6), multitask_official=(0.2, 0.1, 0.1, 0.3)))
    _, context, html, _ = rendered(fixed_run)
    page = tmp_path / "report.html"
    page.write_text(html)
    browser = chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([browser, *flags, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-loaded="yes"' in dom.stdout
    assert 'data-broken-images="0"' in dom.stdout
    assert 'data-gallery-images-decoded="2"' in dom.stdout  # the leaking pairs' thumbnails decode
    assert f'data-verdict-rows="{len(context["verdicts"])}"' in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    # the verdict block ends inside the first screen of a 1366x768 window, with no scrolling (the page's own
    # viewport: headless Chromium leaves it 1366x625 of the window, as a browser's bars do on such a screen)
    first_screen = subprocess.run([browser, *flags, "--window-size=1366,768", "--virtual-time-budget=3000", "--dump-dom",
                                   page.as_uri()], capture_output=True, text=True, timeout=120)
    viewport = re.search(r'data-viewport="(\d+)x(\d+)"', first_screen.stdout)
    bottom = re.search(r'data-verdict-bottom="(\d+)"', first_screen.stdout)
    assert viewport and bottom, first_screen.stderr[-2000:]
    width, height = map(int, viewport.groups())
    assert width == 1366 and 600 <= height <= 768, viewport.groups()
    assert 300 < int(bottom.group(1)) <= height, (bottom.group(1), height)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    taken = subprocess.run([browser, *flags, "--window-size=1280,2400", "--hide-scrollbars",
                            f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank


def test_sweep_table_appears_only_when_a_sweep_finished(fixed_run):
    _, context, html, markdown = rendered(fixed_run)
    assert context["sweep_rows"] == [] and 'id="sweeps"' not in html and "Across seeds" not in markdown
    write(fixed_run / "reports" / "sweeps.csv", pd.DataFrame([
        {"sweep": "seeds", "model": "baseline", "split": "video", "settings": "ab", "profile": "smoke",
         "data_source": "synthetic", "eval_set": "test", "n_seeds": 3, "seeds": "0,1,2",
         "window_accuracy_mean": 0.4321, "window_accuracy_std": 0.0512, "window_macro_f1_mean": 0.2,
         "window_macro_f1_std": 0.01, "video_accuracy_mean": 0.5, "video_accuracy_std": 0.1,
         "video_macro_f1_mean": 0.3, "video_macro_f1_std": 0.05},
        {"sweep": "seeds", "model": "baseline", "split": "frame", "settings": "cd", "profile": "smoke",
         "data_source": "synthetic", "eval_set": "test", "n_seeds": 1, "seeds": "0",
         "window_accuracy_mean": 0.9, "window_accuracy_std": None, "window_macro_f1_mean": 0.8,
         "window_macro_f1_std": None, "video_accuracy_mean": 0.9, "video_accuracy_std": None,
         "video_macro_f1_mean": 0.8, "video_macro_f1_std": None}]))
    _, context, html, markdown = rendered(fixed_run)
    assert len(context["sweep_rows"]) == 2
    table = re.search(r'<table id="sweeps">(.*?)</table>', html, re.S).group(1)
    assert "0.432 &plusmn; 0.051" in table and "3 (0,1,2)" in table
    assert "0.9 &plusmn; &ndash;" in table  # one seed: no spread, not a made-up zero
    assert "| seeds | baseline | video | 3 | 0.432 ± 0.051 |" in markdown


def test_the_report_names_the_recipe_and_lists_its_differences(fixed_run):
    _, context, html, markdown = rendered(fixed_run)
    assert context["recipe"] == "writeup" and "recipe <b>writeup</b>" in html and "recipe **writeup**" in markdown
    keys = {d["key"]: d for d in context["recipe_differences"]}
    assert keys["loss.weights.regression"] == {"key": "loss.weights.regression", "writeup": 1.0, "code": 0.0}
    assert keys["train.sampler"]["code"] == "inverse_frequency" and "train.monitor" not in keys  # same in both
    assert "<code>loss.mil_source</code>" in html
    params = (fixed_run / "params.yaml").read_text().replace("recipe: writeup", "recipe: code")
    (fixed_run / "params.yaml").write_text(params)
    _, context, html, _ = rendered(fixed_run)
    assert context["recipe"] == "code" and "what the write-up's public code computed" in html


def test_the_probe_table_shows_p_values_beside_the_floor(fixed_run):
    window = {"accuracy": 1.0, "accuracy_ci_low": 1.0, "accuracy_ci_high": 1.0, "majority_class_rate": 0.775,
              "macro_f1": 1.0, "macro_f1_ci_low": 1.0, "macro_f1_ci_high": 1.0, "neighbour_in_same_video": 1.0}
    permutation = {"permutations": 500, "accuracy_p_value": 0.001996, "accuracy_chance_mean": 0.29,
                   "macro_f1_p_value": 0.001996, "macro_f1_chance_mean": 0.07}
    write(fixed_run / "runs" / "probe" / "metrics.json",
          {"scores": {"frame": {"window": window, "permutation": permutation}}, "drops": {}})
    _, _, html, markdown = rendered(fixed_run)
    row = re.search(r'<table id="probe-table">.*?</table>', html, re.S).group(0)
    assert "<b>frame</b>" in row and "0.002" in row and "0.775" in row and "0.29" in row
    assert "frame p = 0.002" in markdown


def test_a_missing_input_is_one_clear_error(fixed_run):
    (fixed_run / "runs" / "bench" / "summary.json").unlink()
    with pytest.raises(HarnessError, match=r"the report needs .*runs/bench/summary.json \(the benchmark stage's summary\); run `dvc repro`"):
        collect(inputs_under(fixed_run))


def test_the_newest_gpu_check_and_the_lock_hash_are_shown(fixed_run):
    _, _, html, _ = rendered(fixed_run)
    assert "No <code>make gpu-check</code> result is committed" in html
    (fixed_run / "requirements.lock").write_text("torch==2.0\n")
    result = {"card": "NVIDIA H200", "torch": "2.x", "cuda": "12.4",
              "tests": {"status": "ok", "tests": 3, "passed": 3, "failures": 0, "errors": 0, "skipped": 0},
              "benchmark": {"status": "ok", "claims": {"fp16_train_step": {"ratio": 2.345, "ci_low": 2.2, "ci_high": 2.5},
                                                       "amp_x_loader": {"ratio": None}}},
              "paper_steps": {"status": "ok", "median_step_seconds": 0.41, "clips_per_step": 128,
                              "clip_shape": "16x3x224x224", "clips_per_s": 312.0, "peak_memory_gib": 21.5}}
    write(fixed_run / "results/gpu/nvidia-a100.json", {**result, "card": "NVIDIA A100", "finished": "2026-01-01T00:00:00+00:00"})
    write(fixed_run / "results/gpu/nvidia-h200.json", {**result, "finished": "2026-06-01T00:00:00+00:00"})
    _, _, html, _ = rendered(fixed_run)
    section = re.search(r'<h3 id="gpu-check">.*?</table>', html, re.S).group(0)
    assert "NVIDIA H200" in section and "A100" not in section  # the newest one
    assert "fp16_train_step 2.345x [2.2, 2.5]" in section and "amp_x_loader" not in section
    assert "3 passed, 0 failed" in section and "0.41 s per optimizer step" in section
    assert hashlib.sha256(b"torch==2.0\n").hexdigest() in html


def test_the_leakage_evidence_is_shown_against_chance_with_its_pairs_videos_and_gap_curve(fixed_run):
    _, context, html, markdown = rendered(fixed_run)
    assert {"near_duplicates_by_radius.png", "gap_curve.png"} <= set(context["images"])
    row = re.search(r'<table id="leakage">.*?</table>', html, re.S).group(0)
    assert "0.958 [0.93, 0.97]" in row and "0.032" in row and "3 (2 across videos)" in row
    videos = re.search(r'<table id="leak-videos">.*?</table>', html, re.S).group(0)
    assert videos.count("<tr>") == 1 + 5 and "Abuse000_x264" in videos and "Abuse006_x264" not in videos  # top 5
    gallery = re.search(r'<div class="grid gallery" data-strategy="frame">.*?</div>', html, re.S).group(0)
    assert gallery.count('<img class="pair"') == 2 and "data:image/png;base64,iVBOR" in gallery
    assert "<b>(another video)</b>" in gallery and "Shooting004_x264" in gallery
    assert 'id="gap-curve"' in html
    assert "| frame | 0.99 | 0.032 | 0.958 [0.93, 0.97] | 1 |" in markdown


def sweep_rows(**scores) -> pd.DataFrame:
    """The sweeps stage's table for the fixed run's profile and data: {group_split: (mean, std, min, max)}."""
    rows = []
    for key, (mean, std, low, high) in scores.items():
        model, split = key.split("_")
        rows.append({"sweep": "cpu-seeds", "model": model, "split": split, "settings": key, "profile": "cpu",
                     "data_source": "synthetic", "eval_set": "test", "n_seeds": 3, "seeds": "0,1,2",
                     "window_accuracy_mean": mean, "window_accuracy_std": std, "window_accuracy_min": low,
                     "window_accuracy_max": high, **{f"{m}_{s}": 0.5 for m in ("window_macro_f1", "video_accuracy",
                                                                              "video_macro_f1") for s in ("mean", "std", "min", "max")}})
    return pd.DataFrame(rows)


def test_the_markdown_answers_the_headline_in_its_first_40_lines(fixed_run):
    write(fixed_run / "reports" / "sweeps.csv", sweep_rows(multitask_frame=(0.95, 0.03, 0.91, 0.98),
                                                           multitask_video=(0.40, 0.2, 0.2, 0.6),
                                                           multitask_official=(0.2, 0.1, 0.1, 0.3)))
    _, context, html, markdown = rendered(fixed_run)
    head = "\n".join(markdown.splitlines()[:40])
    assert "99.38%" in head and "validation" in head and "windows" in head
    overlap = context["verdict"]["overlap"]["shares"]
    assert "over 99.99%" in head and f"{overlap[14]['expected'] * 100:.1f}%" in head  # the derived overlap
    assert "**0.910** [0.850, 0.960]" in head and "**0.470** [0.240, 0.680]" in head  # write-up split vs held out
    assert "**1.000** [1.000, 1.000]" in head  # the no-learning probe beside it
    assert "0.950 ± 0.030 (0.910–0.980, 3 seeds)" in head  # each trained score with its spread
    assert "On every one of the 3 seeds" in head and "at least 0.910" in head and "at most 0.600" in head
    assert "1 - 423 / 60635 = 99.302%" in head  # the first contradiction, as arithmetic
    assert "GPU speed claims" in head and "synthetic" in head
    assert 'id="verdict"' in html and html.index('id="verdict"') < html.index('id="summary"') < html.index('id="claims"')


def test_the_every_seed_sentence_only_says_what_every_seed_shows(fixed_run):
    write(fixed_run / "reports" / "sweeps.csv", sweep_rows(multitask_frame=(0.7, 0.2, 0.5, 0.9),
                                                           multitask_video=(0.4, 0.2, 0.2, 0.6)))
    _, context, _, markdown = rendered(fixed_run)
    assert not context["verdict"]["every_seed"]["separated"]
    assert "the seeds do not separate the two here" in markdown and "On every one" not in markdown


def test_findings_say_what_is_wrong_with_their_numbers(fixed_run):
    _, context, html, markdown = rendered(fixed_run)
    by_id = {f["id"]: f for f in context["findings"]}
    assert by_id["accuracy.from_errors"]["title"].startswith("1 - 423 / 60635 = 99.302%, not the printed 99.38%")
    assert "46028 / 76%" in by_id["class-table"]["wrong"]  # a declared finding tells its lead claim's arithmetic
    for v in context["verdicts"]:
        if v["verdict"].startswith("contradicted"):
            assert v["wrong"], f"{v['id']} is contradicted but says nothing of what is wrong"
            if v["check"] == "methodology":  # a condition's own sentence (claims.yaml `wrong:`), not the fallback
                assert "does not hold" not in v["wrong"], f"{v['id']} needs a `wrong:` sentence in claims.yaml"
    assert "(which needs 99.375% to 99.385%)" in html


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def test_the_header_names_edited_inputs_and_not_what_the_run_rewrote(tmp_path):
    """dvc.lock, results/ and the README are written by runs and commands, not read by them: a fresh clone's
    run leaves them changed and must not call itself dirty; an edited dep or params file is named."""
    from harness.report.render import environment

    repo = tmp_path / "repo"
    for name, text in {"harness/x.py": "x = 1\n", "params.yaml": "a: 1\n", "README.md": "r\n", "results/gpu/a.json": "{}",
                       "dvc.lock": yaml.safe_dump({"stages": {"s": {"deps": [{"path": "harness/x.py"}],
                                                                    "params": {"params.yaml": {"a": 1}}}}})}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "c")
    (repo / "dvc.lock").write_text((repo / "dvc.lock").read_text() + "# rewritten by the run\n")
    (repo / "README.md").write_text("regenerated\n")
    (repo / "results" / "gpu" / "a.json").write_text('{"x": 1}')
    clean = environment(repo)
    assert clean["changed_inputs"] == [] and clean["git_dirty"] is False
    (repo / "harness" / "x.py").write_text("x = 2\n")
    (repo / "params.yaml").write_text("a: 2\n")
    edited = environment(repo)
    assert edited["changed_inputs"] == ["harness/x.py", "params.yaml"] and edited["git_dirty"] is True
    template = environment_for_templates().from_string(
        (TEMPLATES / "report.md.j2").read_text().splitlines()[2])
    assert "(no input differs from it)" in template.render(environment=clean, profile="cpu", recipe="writeup", context={})
    assert "with edited inputs: harness/x.py, params.yaml" in template.render(environment=edited, profile="cpu",
                                                                               recipe="writeup", context={})
