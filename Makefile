# make repro  -- build the environment, then run the DVC pipeline on the default (synthetic data, cpu profile)
# make test   -- build the environment, then run the test suite (benchmarks run once, untimed)
# make audit DATA=/path/to/UCF-Crime -- the model-free audit of a data set on disk (no training, no GPU needed)
# make bench  -- time the benchmark suite and fail on a regression against this machine's last run (harness/bench/gate.py)
# make bench-compare BASE=<rev> -- time BASE and this tree in interleaved processes; exit 1 on a regression
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup browser repro audit scale-check index-floor readme test bench bench-compare bench-calibrate gpu-check params lint lock clean

setup: $(VENV)/.installed

# uv links packages from its cache (a fresh environment in seconds) and compiles their bytecode once,
# so that every stage does not recompile torch and timm on import; plain pip is the fallback
# requirements.lock pins every package (the environment the tests and committed results ran in);
# pyproject.toml keeps the ranges the project supports. `make lock` re-pins from the current .venv.
$(VENV)/.installed: pyproject.toml requirements.lock
	@if command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv >/dev/null 2>&1; then \
	    UV="$$(command -v uv || echo $(PYTHON) -m uv)"; \
	    test -x $(BIN)/python || $$UV venv --quiet --python $(PYTHON) $(VENV); \
	    $$UV pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock && \
	    $$UV pip install --quiet --compile-bytecode --python $(BIN)/python --no-deps -e ".[dev]"; \
	else \
	    test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	    $(BIN)/python -m pip install --quiet -r requirements.lock && $(BIN)/python -m pip install --quiet --no-deps -e ".[dev]"; \
	fi
	@touch $@

lock: setup
	@{ sed -n 1,2p requirements.lock; uv pip freeze --python $(BIN)/python | grep -v '^-e '; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock

repro: setup
	dvc repro

# the model-free audit: index, splits with their leakage evidence, the 1-NN probe and the report, nothing trained or
# benchmarked (run.model_free; the report says what did not run). DATA: the folder holding Train/ and Test/
# (SOURCE=ucf_crime_videos for the original mp4s); without DATA, the embedded synthetic default. As any
# `dvc exp run -S`, it leaves its settings in params.yaml: `git checkout params.yaml` returns to the default.
SOURCE ?= ucf_crime_frames
audit: setup
	dvc exp run -S run.model_free=true $(if $(DATA),-S data=$(SOURCE) -S data.root=$(abspath $(DATA)))

# the model-free audit at UCF-Crime's size (synthetic, generated in the real layout), timed stage by stage with peak
# memory into results/scale/<host>-scale-<SCALE>.json (harness/bench/scale_check.py; about 14 minutes at SCALE=1)
SCALE ?= 1
scale-check: setup
	python -m harness.bench.scale_check --scale $(SCALE) --docs docs/data.md

# the index against the PNG decode floor, 5 runs of tests/benchmarks/test_index_throughput.py (about 2 minutes):
# results/bench/<host>-index-floor.json and the block docs/data.md shows (harness/bench/index_floor.py)
index-floor: setup
	python -m harness.bench.index_floor --docs docs/data.md

# the README's figures block, regenerated from the last `make repro` (harness/report/readme.py)
readme: setup
	python -m harness.report.readme --readme README.md --audit reports/audit.json --probe runs/probe/metrics.json \
	    --sweeps reports/sweeps.json --verdicts reports/verdicts.json

test: setup browser
	python -m pytest

# the report's headless-browser test needs chromium: installed here when missing and the system allows it,
# otherwise that one test skips and says how to install it
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  echo "chromium is missing and could not be installed: the browser test will skip (sudo apt-get install chromium)"; }

# on a machine with a CUDA GPU: the gpu tests, the benchmark stage on CUDA and paper-size training steps in at
# most about 8 minutes; writes results/gpu/<card>.json (commit it). Without a GPU it says so and stops.
gpu-check: setup
	python -m harness.bench.gpu_check --out results/gpu

# baselines live per machine (hostname + GPU); the first run on a machine only saves one
BENCH_MACHINE := $(shell hostname)-$(shell nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '_' || echo cpu)
BENCH_STORAGE := .benchmarks/$(BENCH_MACHINE)
# the gate compares this run's rounds with the last run's (harness/bench/gate.py: a rank test and a
# per-group tolerance on the median), not one median against another
bench: setup
	@last=$$(ls -t $(BENCH_STORAGE)/*/*.json 2>/dev/null | head -1); \
	python -m pytest tests/benchmarks --benchmark-enable --benchmark-only --benchmark-autosave --benchmark-save-data \
	    --benchmark-storage=file://$(BENCH_STORAGE) --benchmark-columns=min,median,iqr,ops,rounds && \
	if [ -n "$$last" ]; then python -m harness.bench.gate "$$last" "$$(ls -t $(BENCH_STORAGE)/*/*.json | head -1)"; \
	else echo "first run on $(BENCH_MACHINE): saved as the baseline, nothing to compare"; fi

params: setup
	python -m harness.config --output params.yaml

lint: setup
	ruff check harness stages tests

clean:
	rm -rf data runs reports/report.html reports/report.md reports/figures reports/audit_table.csv

# two revisions timed in one run, interleaved processes (harness/bench/compare.py): BASE defaults to the merge-base
# with main (HEAD~1 on main); exit 1 names each regressed benchmark. The docs say when to use which.
bench-compare: setup
	python -m harness.bench.compare $(if $(BASE),--base $(BASE))

# the gate's false alarms and power on this machine (about 50 minutes): results/bench/calibration.json, quoted by
# docs/benchmarks.md
bench-calibrate: setup
	python -m harness.bench.calibrate && python -m harness.bench.calibrate --docs docs/benchmarks.md
