"""The README's figures block is generated from metric files, and the README carries the block."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import yaml

from harness.report.readme import END, START, figures_block, replace_block
from harness.sources import ROOT

AUDIT = {
    "data_source": "synthetic", "profile": "cpu",
    "scores": {"multitask": {"frame": {"accuracy": 0.97, "accuracy_ci_low": 0.95, "accuracy_ci_high": 0.99,
                                       "majority_class_rate": 0.818, "macro_f1": 0.93, "macro_f1_ci_low": 0.9,
                                       "macro_f1_ci_high": 0.96}}},
    "drops": {"multitask": {"frame_minus_video_macro_f1": {"difference": 0.8, "ci_low": 0.7, "ci_high": 0.9},
                            "frame_minus_video_accuracy": {"difference": 0.4, "ci_low": 0.1, "ci_high": 0.6}}},
}
PROBE = {"scores": {"frame": {"permutation": {"accuracy_p_value": 0.002, "permutations": 500}}}}


def sweep_row(profile: str, seeds: int, mean: float) -> dict:
    return {"model": "multitask", "split": "frame", "profile": profile, "data_source": "synthetic", "n_seeds": seeds,
            "window_accuracy": {"mean": mean, "std": 0.02, "min": mean - 0.03, "max": mean + 0.01}}


def test_the_block_shows_every_score_and_only_the_macro_f1_drops():
    block = figures_block(AUDIT, PROBE, None)
    assert block.startswith(START) and block.endswith(END)
    assert "| multi-task model | frame | 0.970 [0.950, 0.990] | – | 0.818 | 0.930 [0.900, 0.960] |" in block
    assert "| multi-task model | to video | 0.800 [0.700, 0.900] |" in block and "0.400" not in block
    assert "frame 0.0020" in block and "500 permutations" in block


def test_each_score_carries_the_spread_of_the_sweep_of_its_own_profile_and_data():
    sweeps = {"small/multitask-frame": sweep_row("cpu", 2, 0.5), "big/multitask-frame": sweep_row("cpu", 5, 0.96),
              "other/multitask-frame": sweep_row("smoke", 9, 0.1)}
    block = figures_block(AUDIT, PROBE, sweeps)
    assert "| multi-task model | frame | 0.970 [0.950, 0.990] | 0.960 ± 0.020 (0.930–0.970, 5 seeds) |" in block
    assert "(big)" in block
    assert "0.100" not in block and "0.500" not in block  # another profile; fewer seeds


def test_replacing_keeps_the_rest_and_needs_the_markers():
    text = f"intro\n{START}\nold\n{END}\noutro\n"
    assert replace_block(text, f"{START}\nnew\n{END}") == f"intro\n{START}\nnew\n{END}\noutro\n"
    with pytest.raises(ValueError, match="no"):
        replace_block("no markers", "x")


def test_the_readme_has_one_generated_block():
    text = (ROOT / "README.md").read_text()
    assert text.count(START) == 1 and text.count(END) == 1


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, without its comment."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_make_target_the_readme_names_exists():
    inline = re.findall(r"`make ([a-z-]+)`", (ROOT / "README.md").read_text())
    targets = {line.split()[1] for line in readme_commands() if line.startswith("make ")} | set(inline)
    assert {"repro", "test", "bench", "gpu-check", "setup"} <= targets
    for target in targets:
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def test_every_dvc_exp_run_example_composes_into_valid_params(tmp_path):
    """Each `dvc exp run -S ...` of the README composes (as DVC does) into params every stage accepts; the
    real-data example runs end to end in tests/test_pipeline.py."""
    from harness.config import (
        BenchConfig,
        DataConfig,
        EvaluateConfig,
        LeakageConfig,
        LossConfig,
        PipelineConfig,
        ProbeConfig,
        RunConfig,
        SplitsConfig,
        TrainConfig,
        WindowConfig,
        compose_params,
        load_section,
    )

    examples = [line for line in readme_commands() if line.startswith("dvc exp run")]
    assert len(examples) >= 4
    for line in examples:
        overrides = [o.replace("/abs/path/to/UCF-Crime", str(tmp_path)) for o in re.findall(r"-S (\S+)", line)]
        params = yaml.safe_load(compose_params([shlex.split(o)[0] for o in overrides]))
        for name, cls in (("run", RunConfig), ("data", DataConfig), ("windows", WindowConfig), ("splits", SplitsConfig),
                          ("train", TrainConfig), ("loss", LossConfig), ("pipeline", PipelineConfig),
                          ("bench", BenchConfig), ("evaluate", EvaluateConfig), ("probe", ProbeConfig),
                          ("leakage", LeakageConfig)):
            load_section(params, name, cls)


def test_the_inspection_commands_it_names_run():
    """`dvc dag` draws every stage of dvc.yaml; `python -m harness.sources stages/<x>.py` lists a stage's deps."""
    text = (ROOT / "README.md").read_text()
    assert "`dvc dag`" in text and "`python -m harness.sources stages/<x>.py`" in text
    dag = subprocess.run(["dvc", "dag", "--md"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert dag.returncode == 0, dag.stderr
    for stage in ("prepare", "split@gap", "train@multitask-frame", "probe", "audit", "benchmark", "report"):
        assert stage in dag.stdout, stage
    deps = subprocess.run([sys.executable, "-m", "harness.sources", "stages/train.py"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert "- harness/train/loop.py" in deps.stdout.splitlines()
