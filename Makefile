# Quick start:  make demo   (runs soundloc on built-in sounds)
#               make test   (runs the test suite)
# Both create ./.venv on first use and install everything into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.soundloc-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	# CPU build of torch first, so nothing later pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# tinysoundfont declares pyaudio (unused for synthesis, needs PortAudio headers): skip its deps.
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/soundloc demo

# lint: ruff on everything, mypy on the package (strict on the modules listed in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n 2 --durations=15

bench: $(STAMP)
	$(BIN)/python benchmarks/doa.py
	$(BIN)/python benchmarks/simulate.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
