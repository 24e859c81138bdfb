# syntax=docker/dockerfile:1
# Dask scheduler, workers and the `dvc repro` runner on GKE (k8s/dask/): fraudctl with the
# dask and gcs extras, so workers can run the stages' tasks and the runner can pull data.
#   docker build -f docker/dask.Dockerfile -t fraudctl-dask .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1
# LightGBM needs the OpenMP runtime; the runner clones the project with git.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md /src/
COPY fraudctl /src/fraudctl
RUN python -m venv /opt/venv && /opt/venv/bin/pip install "/src[dask,gcs]"
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
ENV PATH=/opt/venv/bin:$PATH
USER 10001:10001
WORKDIR /work/project
# One image, three roles (scheduler, worker, pipeline job): the Kubernetes probes in
# k8s/dask/ check each role its own way, so the image declares no check of its own.
HEALTHCHECK NONE
