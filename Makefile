# Front door of the reproduction. Every target creates .venv from the pinned
# lock file when it is missing, so a fresh clone needs nothing but Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TORCH  := $(VENV)/.torch
CORES  ?= 8

.PHONY: reproduce test quick bench lint lock clean-results

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

## reproduce: regenerate every figure and results/claims.json with the full configuration
reproduce: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

## quick: the CI-sized profile (config/quick.yaml), written under quick/
quick: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/quick.yaml

## test: unit tests, pipeline tests and the quick reproduction check
test: $(STAMP) $(TORCH)
	$(BIN)/python -m pytest

## bench: solver benchmarks; prints a table, writes benchmarks/results.json and benchmarks/scaling.png
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, where a machine sets them, force an older and
# slower OpenBLAS kernel; they are unset for this command only, and results.json records
# the kernel that ran.
bench: $(STAMP) $(TORCH)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_solver.py --scaling

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
