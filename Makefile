# Set-up and the two everyday commands. `make demo` and `make test` install first when needed.
#   make install   create .venv, install torch (CPU build where it lies on disk) and lmstack[dev]
#   make demo      run the built-in customer-service example end to end
#   make test      run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Installed before the project so that `torch>=2.4` is already satisfied and pip does not pull a
# multi-GB CUDA build. On a GPU machine: make install TORCH="torch --index-url <your CUDA wheel index>".
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.lmstack-installed

.PHONY: install demo test clean

install: $(STAMP)

# setup.py builds the one C extension (the engine's CPU kernels); editing its sources reinstalls.
$(STAMP): pyproject.toml setup.py $(wildcard src/lmstack/serve/engine/csrc/*)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip check
	touch $(STAMP)

demo: install
	$(BIN)/lmstack run examples/customer-service/project.yaml

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
