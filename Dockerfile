# One image for every Callwright process; the command picks the process.
#   docker build -t callwright .                                  (API, worker)
#   docker build --build-arg EXTRAS=cpu -t callwright:cpu .       (CPU speech engines)
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
RUN pip install "$TORCH_SPEC" \
    && pip install ".${EXTRAS:+[$EXTRAS]}" \
    && useradd --system --uid 10001 callwright

USER callwright
EXPOSE 8000
CMD ["callwright", "api", "--host", "0.0.0.0", "--port", "8000"]
