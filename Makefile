# Front door of the reproduction. Every target creates .venv from the pinned
# lock file when it is missing, so a fresh clone needs nothing but Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := $(VENV)/.torch
CORES  ?= 8
# Output directory of config/quick.yaml (its output_dir key).
QUICK_DIR := quick
# make bench-pipeline: timed runs per configuration, and Snakemake's --cores for them.
PIPELINE_RUNS  ?= 3
PIPELINE_CORES ?= $(shell nproc 2>/dev/null || echo 2)
# make verify: the configuration to run twice and where its two runs go.
VERIFY_CONFIG ?= config/quick.yaml
VERIFY_DIR    ?= verify

.PHONY: reproduce report test test-slurm quick verify reference check-reference baseline bench bench-pipeline lint lock

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# PyTorch is an optional extra: only the cross-check tests and the benchmark use it.
$(TORCH): $(STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	touch $@

## reproduce: regenerate every figure and results/claims.json with the full configuration,
## then the README's claims table from results/claims.md
reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/python benchmarks/doc_tables.py

## report: bundle the figures, captions and claims table into report.html
report: $(STAMP)
	$(BIN)/snakemake --report report.html

## quick: the CI-sized profile (config/quick.yaml), written under quick/
quick: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/quick.yaml

## test: unit tests, pipeline tests and the quick reproduction check
test: $(STAMP) $(TORCH)
	$(BIN)/python -m pytest

## test-slurm: run the workflow on a throwaway one-node Slurm cluster and compare it with a local run
##   (root on Debian; SLURM_CHECK_SNAKEFILE=... SLURM_CHECK_CONFIGFILE=... pick another workflow; docs/cluster.md)
test-slurm: $(STAMP)
	$(BIN)/python tests/slurm/run_slurm_check.py

## verify: run VERIFY_CONFIG twice from scratch (--cores 1, then --cores CORES) and check that
## every output except the logs is byte-identical; the checksums go to VERIFY_DIR/first-run.sha256
verify: $(STAMP)
	rm -rf $(VERIFY_DIR)
	$(BIN)/snakemake --cores 1 --configfile $(VERIFY_CONFIG) --config output_dir=$(VERIFY_DIR)/run
	$(BIN)/python -m dspgd.manifest write $(VERIFY_DIR)/run $(VERIFY_DIR)/first-run.sha256
	rm -rf $(VERIFY_DIR)/run
	$(BIN)/snakemake --cores $(CORES) --configfile $(VERIFY_CONFIG) --config output_dir=$(VERIFY_DIR)/run
	$(BIN)/python -m dspgd.manifest check $(VERIFY_DIR)/run $(VERIFY_DIR)/first-run.sha256

## check-reference: compare the quick run under quick/ with tests/reference/quick.json (tolerances, not bytes)
check-reference: quick
	$(BIN)/python -m dspgd.reference check $(QUICK_DIR) tests/reference/quick.json

## reference: rewrite tests/reference/quick.json from the quick run (after an intended change of results)
reference: quick
	$(BIN)/python -m dspgd.reference write $(QUICK_DIR) tests/reference/quick.json

## baseline: replace tests/baseline/*.png with the quick run's figures (after an intended change of figures)
## and record the run's versions, BLAS and platform in tests/baseline/environment.json
baseline: quick
	mkdir -p tests/baseline
	rm -f tests/baseline/*.png
	cp $(QUICK_DIR)/figures/*.png tests/baseline/
	$(BIN)/python -m dspgd.reference environment $(QUICK_DIR) tests/baseline/environment.json

## bench: solver benchmarks; prints a table, writes benchmarks/results.json and benchmarks/scaling.png,
## and rewrites the tables of docs/benchmarks.md from them
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, where a machine sets them, force an older and
# slower OpenBLAS kernel; they are unset for this command only, and results.json records
# the kernel that ran.
bench: $(STAMP) $(TORCH)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_solver.py --scaling
	$(BIN)/python benchmarks/doc_tables.py

## bench-pipeline: time the full configuration and the quick profile from an empty output directory,
## PIPELINE_RUNS times each with /usr/bin/time -v (median), on PIPELINE_CORES cores; writes
## benchmarks/pipeline_times.json and the tables of README.md and docs/benchmarks.md.
## About 25 minutes on 2 cores with the defaults.
bench-pipeline: $(STAMP)
	$(BIN)/python benchmarks/time_pipeline.py --config config/quick.yaml --runs $(PIPELINE_RUNS) --cores $(PIPELINE_CORES)
	$(BIN)/python benchmarks/time_pipeline.py --config config/config.yaml --runs $(PIPELINE_RUNS) --cores $(PIPELINE_CORES)
	$(BIN)/python benchmarks/doc_tables.py

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests benchmarks
	$(BIN)/snakemake --lint

## lock: refresh requirements.lock from the ranges in pyproject.toml
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet "pip==26.3"
	.lock-venv/bin/python -m pip install --quiet ".[pipeline,test]"
	{ echo "# Pinned versions for reproduction (Python 3.11, Linux x86_64)."; \
	  echo "# Regenerate: make lock (creates a scratch venv from pyproject.toml ranges and freezes it)."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -e "^dspgd" -e "^pip==" | sort -f; } > requirements.lock
	rm -rf .lock-venv
