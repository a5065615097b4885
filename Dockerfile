# Verifier Ladder images, one file, three uses:
#   worker (default args)  CUDA 13 runtime + torch 2.14 / vllm 0.33 + the harness. GPU hosts with the NVIDIA
#                          container toolkit only: it cannot be built or run on a host without them.
#   worker (CPU args)      the same stage on a plain Debian base with the CPU build of torch (tests, CPU demo):
#                          --build-arg WORKER_BASE=debian:bookworm-slim --build-arg TORCH_SPEC=torch==2.13.0
#                          --build-arg EXTRAS=cpu   (.ci/docker-up.sh builds it from a debootstrap base)
#   web                    the leaderboard: the `web` extra only (no torch), uvicorn on :8000.
# Legacy-builder compatible (no BuildKit features). Base images are build ARGs, so a host without a registry can
# use a locally made base. No secrets are baked in: credentials come from the environment or secret files at run
# time. Optional build inputs: container/ca-certificates/*.crt (for builds behind a TLS-intercepting proxy) and
# container/wheels/*.whl (local wheels, e.g. the CPU torch build).

ARG WORKER_BASE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
ARG WEB_BASE=debian:bookworm-slim

# ---------------------------------------------------------------- worker (CUDA by default, CPU by ARGs)
FROM ${WORKER_BASE} AS worker
LABEL org.opencontainers.image.title="verifier-ladder worker" verifier-ladder.image="worker"
# vllm 0.33.0 pins torch 2.14.0 / torchvision 0.29.0 and a transformers range our pins share.
ARG TORCH_SPEC="torch==2.14.0 torchvision==0.29.0"
ARG EXTRAS=gpu
# CPU builds pass CONSTRAINTS=/constraints.txt (the versions CI tested); the GPU build leaves vllm's pins in charge.
ARG CONSTRAINTS=""
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 LADDER_DATA_DIR=/data HF_HOME=/cache/hf
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.* python3-venv=3.* ca-certificates=20* \
 && rm -rf /var/lib/apt/lists/*
COPY container/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates && python3 -m venv /opt/venv
COPY container/wheels/ /wheels/
# torch first (its own layer, the largest), pinned, so the project install never pulls another build.
# hadolint ignore=DL3013,SC2086
RUN pip install --find-links /wheels ${TORCH_SPEC}
COPY pyproject.toml README.md /src/
COPY container/constraints.txt /constraints.txt
COPY harness /src/harness
COPY leaderboard /src/leaderboard
# The local project (its dependency ranges are in pyproject.toml); TORCH_SPEC is a list, split on purpose.
# hadolint ignore=DL3013,SC2086
RUN pip install --find-links /wheels "/src[${EXTRAS}]" ${TORCH_SPEC} ${CONSTRAINTS:+--constraint "$CONSTRAINTS"} \
 && rm -rf /wheels /src/build
COPY submissions /app/submissions
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin ladder \
 && mkdir -p /data /cache/hf && chown ladder:ladder /data /cache/hf
WORKDIR /app
USER 10001:10001
VOLUME ["/data", "/cache/hf"]
HEALTHCHECK --interval=60s --timeout=10s CMD ["ladder", "--help"]
ENTRYPOINT ["ladder"]
CMD ["worker"]

# ---------------------------------------------------------------- web (the leaderboard; no ML stack)
FROM ${WEB_BASE} AS web
LABEL org.opencontainers.image.title="verifier-ladder web" verifier-ladder.image="web"
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    LADDER_DATA_DIR=/data MPLCONFIGDIR=/tmp/matplotlib
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.* python3-venv=3.* ca-certificates=20* \
 && rm -rf /var/lib/apt/lists/*
COPY container/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates && python3 -m venv /opt/venv
COPY pyproject.toml README.md /src/
COPY container/constraints.txt /constraints.txt
# Only the `web` extra's requirements (a subset of the dependencies, checked by tests/test_packaging.py), at the
# versions CI tested.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['optional-dependencies']['web']))" > /tmp/web.txt \
 && pip install -r /tmp/web.txt --constraint /constraints.txt && rm /tmp/web.txt
COPY harness /src/harness
COPY leaderboard /src/leaderboard
RUN pip install --no-deps /src && rm -rf /src/build
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin ladder && mkdir -p /data && chown ladder:ladder /data
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["ladder"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
