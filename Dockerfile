# One image for every Callwright process; the command picks the process.
#   docker build -t callwright .                                  (API, worker)
#   docker build --build-arg EXTRAS=cpu -t callwright:cpu .       (realtime, CPU speech engines)
#   docker build --build-arg EXTRAS=cpu,gpu \
#     --build-arg TORCH_SPEC="torch==2.13.0 torchaudio==2.13.0 \
#       --index-url https://download.pytorch.org/whl/cu128" \
#     -t callwright:gpu .                                         (realtime, Chatterbox on CUDA)

# The web console: built to static files by Node, served by the API (api/console.py). The agent
# builder imports the plan's example documents and the TestConsole the eval's scenario sets, so
# examples/ and tests/eval/scenarios/ come along.
FROM node:20-slim AS console
WORKDIR /src/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY examples /src/examples
COPY tests/eval/scenarios /src/tests/eval/scenarios
COPY console ./
RUN npm run build

FROM python:3.11-slim

# PyPI's Linux torch wheels are CUDA builds: the CPU one comes from PyTorch's own index.
ARG TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
ARG EXTRAS=""

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CALLWRIGHT_ENV=production \
    CONSOLE_DIR=/app/console

WORKDIR /app
# The locks come first: the dependency layer is rebuilt only when they change.
COPY requirements.lock requirements-cpu.lock ./
# Every package from a lock, pinned and hash-checked, with --no-deps so that nothing outside it
# comes in (silero-vad, locked without the torch wrapper's pins, among them). torch is the one
# exception: the speech images then add the build TORCH_SPEC names (CPU by default, CUDA for a
# GPU node), its own dependencies already there from the lock; the API/worker image has no
# torch. The gpu extra (Chatterbox's runtime) is not locked: it follows the CUDA build.
RUN case ",$EXTRAS," in *,cpu,*|*,gpu,*) lock=requirements-cpu.lock ;; *) lock=requirements.lock ;; esac \
    && pip install --no-deps --require-hashes -r "$lock" \
    && case ",$EXTRAS," in *,cpu,*|*,gpu,*) pip install $TORCH_SPEC ;; esac \
    && useradd --system --uid 10001 callwright
COPY pyproject.toml README.md ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY realtime ./realtime
COPY api ./api
COPY workers ./workers
COPY --from=console /src/console/dist ./console
RUN pip install --no-deps . \
    && case ",$EXTRAS," in *,gpu,*) \
      pip install ".[gpu]" && pip install --no-deps "chatterbox-tts==0.1.7" ;; esac

USER callwright
EXPOSE 8000
CMD ["callwright", "api", "--host", "0.0.0.0", "--port", "8000"]
