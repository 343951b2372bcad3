# Everything the project needs is installed by these targets, into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine; GPU images override it.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= embedded,cpu,dev
STAMP := $(VENV)/.installed

.PHONY: install demo dev test lint typecheck unit fuzz bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	# Silero VAD's wheel carries the ONNX model we run; its declared torch/torchaudio pins are
	# only for its own Python wrapper, which we do not use (shared/STACK.md).
	$(BIN)/pip install --quiet --no-deps "silero-vad>=5.1"
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/callwright demo

dev: install
	$(BIN)/callwright dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

# A longer schemathesis run than the one in `make test`.
fuzz: install
	FUZZ_MAX_EXAMPLES=100 $(BIN)/pytest -q tests/api/test_fuzz.py

# Latency and memory of the realtime process, by simulated phone calls (BENCHMARKS.md).
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m workers.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
