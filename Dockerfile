# syntax=docker/dockerfile:1
# The scoring service: `fraudctl serve` with the model baked in.
# Build after `make repro` (or `dvc pull`) so models/model exists:
#   docker build -t fraudctl-api .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp fraudctl-api
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# LightGBM needs the OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
WORKDIR /src
# The locked versions the tests passed with (requirements.lock) constrain the image too.
COPY docker/requirements-serve.txt /src/docker/
COPY requirements.lock /src/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -c requirements.lock -r docker/requirements-serve.txt
COPY pyproject.toml README.md /src/
COPY fraudctl /src/fraudctl
RUN /opt/venv/bin/pip install --no-deps /src

FROM base
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app models/model /app/model
ENV PATH=/opt/venv/bin:$PATH \
    OMP_NUM_THREADS=1 \
    FRAUDCTL_MODEL=/app/model \
    FRAUDCTL_HOST=0.0.0.0 \
    FRAUDCTL_PORT=8080 \
    FRAUDCTL_WORKERS=1
USER 10001:10001
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=2)"]
CMD ["fraudctl", "serve"]
