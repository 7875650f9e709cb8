# Quick start:  make demo   (runs soundloc on built-in sounds)
#               make test   (runs the test suite)
# Both create ./.venv on first use and install everything into it.
PYTHON ?= python3
VENV   ?= .venv
# Package index for torch, empty = pip's configured sources (unchanged behaviour). A plain PyPI
# install of torch on Linux is the multi-GB CUDA build; for the CPU-only build use
#   make TORCH_INDEX=https://download.pytorch.org/whl/cpu
# and for a given CUDA version e.g. TORCH_INDEX=https://download.pytorch.org/whl/cu126.
TORCH_INDEX ?=
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.soundloc-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	# torch first, from TORCH_INDEX when given, so nothing later pulls another build.
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
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
