"""Sweeps: seeds x split strategies x models as one Hydra multirun, on any of Hydra's launchers.

    python -m harness.train.sweep -m seed=0,1,2 split=frame,video model=baseline,multitask
    python -m harness.train.sweep -m ... hydra/launcher=joblib hydra.launcher.n_jobs=2 run.threads=1
    python -m harness.train.sweep -m ... hydra/launcher=submitit_slurm hydra.launcher.partition=gpu ...

``seed=``, ``split=`` and ``model=`` are short for ``run.seed=``, ``sweep.split=`` and ``sweep.model=``;
every other override is the same as for ``dvc exp run -S`` (``profile=smoke``, ``train.epochs=3``...).
The config is harness/conf/sweep.yaml: the params.yaml config plus a ``sweep`` section.

One job: prepares the data once for every sweep (the first job under a file lock, into
sweeps/_data/<hash of the data settings>; the others wait and reuse it), builds its split manifest,
trains (harness.train.loop: checkpoints resume after a preemption), scores the split's test set
(harness.scoring.evaluation) and writes params.yaml, checkpoints/, live/ and summary.json in
sweeps/<name>/<model>-<split>-seed<seed>/ (git-ignored, large) and its scores in
sweeps/results/<name>/<model>-<split>-seed<seed>.json (small; commit them with dvc.lock). A job whose
result file already holds the same settings returns it without training, so re-launching a sweep runs
only the jobs that did not finish.

harness.train.sweep_table turns the result files into mean +- std across seeds (the DVC stage ``sweeps``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness.config import CONF_DIR, SweepConfig, TrainConfig, parse_section
from harness.errors import ConfigError
from harness.io import read_json, write_json
from harness.sources import code_hash

log = logging.getLogger("harness")

ALIASES = {"seed": "run.seed", "split": "sweep.split", "model": "sweep.model"}


# --------------------------------------------------------------------------- one job
def _data_hash(params: dict[str, Any]) -> str:
    """The data settings and the code that prepares data: another version of either prepares afresh."""
    from harness.data import prepare
    from harness.train.checkpoints import fingerprint

    return fingerprint(params["data"], params["synthetic"], code_hash(prepare.__file__))


def prepared_index(params: dict[str, Any], data_dir: Path, lock_timeout_minutes: float) -> pd.DataFrame:
    """The frame index for ``params``' data settings, prepared by the first job that needs it."""
    from filelock import FileLock, Timeout

    from harness.config import DataConfig, SyntheticConfig, load_section
    from harness.data.prepare import prepare
    from harness.io import write_parquet

    folder = data_dir / _data_hash(params)
    index_path = folder / "index.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(folder / ".lock"), timeout=lock_timeout_minutes * 60):
            if not index_path.is_file():  # the folder's name covers the indexer's code
                log.info("preparing the sweep's data in %s", folder)
                data = load_section(params, "data", DataConfig)
                synthetic = load_section(params, "synthetic", SyntheticConfig)
                result = prepare(data, synthetic, folder / "frames", repo_root=Path.cwd())
                write_json(folder / "report.json", result.report)
                write_parquet(index_path, result.frames)
    except Timeout:
        raise ConfigError(
            f"waited {lock_timeout_minutes:g} min for another job to prepare {folder}; if no job is preparing it, "
            f"delete {folder / '.lock'}"
        ) from None
    return pd.read_parquet(index_path)


def train_and_score(params: dict[str, Any], sweep: SweepConfig, out: Path) -> dict[str, Any]:
    """One sweep job: data, split, training, test scores; returns (and writes) result.json's content."""
    import yaml

    from harness.config import (
        DataConfig,
        EvaluateConfig,
        RunConfig,
        SplitsConfig,
        TrainConfig,
        WindowConfig,
        load_section,
    )
    from harness.data.windows import build_windows
    from harness.leakage.splits import make_manifest, manifest_hash
    from harness.runtime.runinfo import environment
    from harness.scoring.evaluation import evaluate_run
    from harness.train.checkpoints import fingerprint, load_trained_model
    from harness.train.controls import apply_labels
    from harness.train.loop import train_model
    from harness.train.run_setup import build_run

    run = load_section(params, "run", RunConfig)
    data = load_section(params, "data", DataConfig)
    window_cfg = load_section(params, "windows", WindowConfig)
    splits = load_section(params, "splits", SplitsConfig)
    train_cfg = load_section(params, "train", TrainConfig)
    evaluate_cfg = load_section(params, "evaluate", EvaluateConfig)
    if train_cfg.nproc_per_node != 1:
        raise ConfigError("params.yaml: train.nproc_per_node must be 1 in a sweep (one process per job; "
                          "ask the launcher for one GPU per job)")
    settings = fingerprint(_result_settings(params), sweep.model, sweep.split)
    code = code_hash(__file__)
    job_hash = fingerprint(settings, run.seed, code)
    result_path = Path(sweep.results_dir) / out.parent.name / f"{out.name}.json"
    if result_path.is_file():
        previous = read_json(result_path)
        if previous.get("job_hash") == job_hash:
            log.info("%s already holds this job's result; not training again", result_path)
            return previous
        if previous.get("settings") != settings:
            raise ConfigError(f"{out} holds a run of other settings; give this sweep another sweep.name "
                              f"(or delete {out})")
        log.info("%s was computed by other code (code hash %s, now %s); training again", result_path,
                 previous.get("code_hash"), code)

    out.mkdir(parents=True, exist_ok=True)
    (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    index = prepared_index(params, Path(sweep.data_dir), sweep.lock_timeout_minutes)
    manifest = make_manifest(sweep.split, build_windows(index, window_cfg), splits, window_cfg)
    control = sweep.model == "control"  # the control stage's run: the control model on shuffled labels
    network = params["pipeline"]["control_model"] if control else sweep.model
    setup = build_run(params, network, manifest, manifest_hash(manifest.windows, index), index[["path"]], out,
                      shuffle_labels=control)
    log.info("job %s: %s on the %s split, seed %d", out.name, sweep.model, sweep.split, run.seed)
    summary = train_model(setup.spec)
    write_json(out / "summary.json", {**setup.record, **summary, "environment": environment()})

    model, _ = load_trained_model(out, params, setup.spec.device)
    labels = None if setup.video_labels is None else apply_labels(manifest.role("test"), setup.video_labels)
    scores, _ = evaluate_run(model, index["path"].to_numpy(), manifest, labels, data.classes, window_cfg,
                             data.image_size, train_cfg, evaluate_cfg, setup.spec.device, run.seed)
    result = {
        "sweep": out.parent.name,  # the sweep folder (sweep.name unless hydra.sweep.dir was moved)
        "model": sweep.model,
        "split": sweep.split,
        "seed": run.seed,
        "settings": settings,
        "job_hash": job_hash,
        "code_hash": code,
        "profile": run.profile,
        "data_source": data.source,
        "eval_set": scores["eval_set"],
        "window": scores["window"],
        "video": scores["video"],
        "train": {k: summary[k] for k in ("epochs_run", "stopped_by", "best_epoch", "monitor", "best_val_score",
                                          "seconds_training_total", "device", "precision")},
    }
    write_json(result_path, result)
    log.info("job %s: test window accuracy %.3f, macro-F1 %.3f", out.name, scores["window"]["accuracy"],
             scores["window"]["macro_f1"])
    return result


# settings that change how fast a job runs, not what it computes (thread counts change float rounding only)
_RUNTIME_ONLY = {"run": ("seed", "threads", "device"), "train": TrainConfig.RUNTIME_ONLY}


def _result_settings(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the seed and the runtime-only settings: jobs that differ only there are pooled."""
    return {name: ({k: v for k, v in section.items() if k not in _RUNTIME_ONLY[name]}
                   if name in _RUNTIME_ONLY else section) for name, section in params.items()}


def run_job(cfg) -> dict[str, Any]:
    """The Hydra task function: one job of the sweep, in the folder Hydra gave it."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(cfg, resolve=True)
    sweep = parse_section(SweepConfig, params.pop("sweep"), "sweep")
    return train_and_score(params, sweep, Path(HydraConfig.get().runtime.output_dir))


# --------------------------------------------------------------------------- entry point
def expand_aliases(argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        out.append(f"{ALIASES[key]}={value}" if sep and key in ALIASES else arg)
    return out


def main() -> None:
    import hydra

    sys.argv[1:] = expand_aliases(sys.argv[1:])
    hydra.main(config_path=str(CONF_DIR), config_name="sweep", version_base="1.3")(run_job)()


if __name__ == "__main__":
    # call the importable module's copy, so that launchers pickle harness.train.sweep.run_job by reference
    from harness.train.sweep import main as _main

    _main()
