"""make gpu-check's CPU-side parts: the one-line refusal without a GPU, the card's file name, the test summary
it records, and which result the report shows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import REPO, env_with_venv

from harness.bench.gpu_check import NEEDS_GPU, benchmark_on_cuda, junit_summary
from harness.report.gpu_results import card_slug, latest_result


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: make gpu-check would run")
def test_without_a_gpu_it_says_so_in_one_line_and_writes_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "harness.bench.gpu_check", "--out", str(tmp_path / "gpu")], cwd=REPO,
                          env=env_with_venv(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout.strip() == NEEDS_GPU and done.stderr == ""
    assert not (tmp_path / "gpu").exists()


def test_the_make_target_runs_it_into_the_committed_folder():
    dry = subprocess.run(["make", "-n", "gpu-check"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "python -m harness.bench.gpu_check --out results/gpu" in dry.stdout
    assert (REPO / "results" / "gpu").is_dir()


def test_card_names_become_file_names():
    assert card_slug("NVIDIA H200") == "nvidia-h200"
    assert card_slug("NVIDIA A100-SXM4-80GB") == "nvidia-a100-sxm4-80gb"
    assert card_slug("  ") == "unknown-gpu"


def test_the_test_summary_comes_from_pytests_own_report(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_ok():\n    pass\n"
        "def test_bad():\n    assert False\n"
        "@pytest.mark.skip(reason='x')\ndef test_skipped():\n    pass\n")
    report = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                    str(tmp_path / "test_sample.py")], cwd=tmp_path, capture_output=True, timeout=120)
    summary = junit_summary(report)
    assert (summary["tests"], summary["passed"], summary["failures"], summary["skipped"]) == (3, 1, 1, 1)
    assert summary["failed"] == ["test_sample::test_bad"]


def test_the_newest_finished_result_is_the_one_shown(tmp_path):
    assert latest_result(tmp_path / "missing") is None
    for name, finished in (("a", "2026-01-02T00:00:00+00:00"), ("b", "2026-03-01T00:00:00+00:00"), ("c", None)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"card": name, "finished": finished}))
    (tmp_path / "README.md").write_text("not a result")
    assert latest_result(tmp_path)["card"] == "b"


@pytest.mark.slow
def test_the_benchmark_part_runs_the_pipelines_stage_scripts(tmp_path, monkeypatch):
    """The same prepare -> split -> benchmark sequence the GPU run makes, here on the CPU with the smoke profile."""
    monkeypatch.setenv("PATH", env_with_venv()["PATH"])
    result = benchmark_on_cuda(REPO, tmp_path, profile="smoke", device="cpu")
    assert result["status"] == "ok", result
    assert result["claims"]["bf16_train_step"]["status"] == "measured"
    assert result["claims"]["fp16_train_step"]["status"] == "not testable here"
    assert result["environment"]["device"] == "cpu"
