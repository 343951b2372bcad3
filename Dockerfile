# One image for every Callwright process; the command picks the process.
#   docker build -t callwright .                                  (API, worker)
#   docker build --build-arg EXTRAS=cpu -t callwright:cpu .       (realtime, CPU speech engines)
#   docker build --build-arg EXTRAS=cpu,gpu \
#     --build-arg TORCH_SPEC="torch==2.13.0 torchaudio==2.13.0 \
#       --index-url https://download.pytorch.org/whl/cu128" \
#     -t callwright:gpu .                                         (realtime, Chatterbox on CUDA)
FROM python:3.11-slim

ARG TORCH_SPEC=torch==2.13.0
ARG EXTRAS=""

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CALLWRIGHT_ENV=production

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY realtime ./realtime
COPY api ./api
COPY workers ./workers
# silero-vad and chatterbox-tts go in with --no-deps: each declares pins for code we do not run
# (Silero's torch wrapper — we run its bundled ONNX model; Chatterbox's old torch/transformers
# releases). Their real runtime imports come with the cpu and gpu extras.
RUN pip install $TORCH_SPEC \
    && pip install ".${EXTRAS:+[$EXTRAS]}" \
    && case ",$EXTRAS," in *,cpu,*) pip install --no-deps "silero-vad>=5.1";; esac \
    && case ",$EXTRAS," in *,gpu,*) pip install --no-deps "chatterbox-tts==0.1.7";; esac \
    && useradd --system --uid 10001 callwright

USER callwright
EXPOSE 8000
CMD ["callwright", "api", "--host", "0.0.0.0", "--port", "8000"]
