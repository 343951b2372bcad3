# Everything the project needs is installed by these targets, into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine; GPU images override it.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= embedded,cpu,dev
STAMP := $(VENV)/.installed

.PHONY: install demo dev test lint typecheck unit fuzz bench chaos chaos-short clean

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

# Calls in flight through crashes and deploys (RELIABILITY.md, "## Chaos"): a whole stack of
# real processes, simulated callers by phone audio, each fault in turn, exit 1 if a call, a turn
# or a webhook is lost or a record left open. `chaos` is the full run that writes the figures
# (3 calls at once per fault, about 20 minutes on 2 cores); `chaos-short` the CI form: one call
# per fault, on the shortest proven scenario (about 3 minutes).
CHAOS_ARGS ?=
chaos: install
	$(BIN)/python -m workers.chaos --calls 3 --markdown RELIABILITY.md $(CHAOS_ARGS)

CHAOS_SHORT_FAULTS ?= realtime-kill9,worker-kill9,api-kill9,temporal-restart,postgres-restart,realtime-sigterm
CHAOS_SHORT_SCENARIO ?= tests/eval/scenarios/appointment_scheduler/appt-three-facts-at-once.yaml
chaos-short: install
	$(BIN)/python -m workers.chaos --calls 1 --faults $(CHAOS_SHORT_FAULTS) \
		--scenario $(CHAOS_SHORT_SCENARIO) $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
