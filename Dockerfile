# Verifier Ladder images. Targets:
#   worker      CUDA 13 runtime + torch/vllm + the harness (GPU hosts with the NVIDIA container toolkit only)
#   worker-cpu  the same worker on a plain Debian base with the CPU build of torch (tests, CPU demo)
# Works with the legacy builder (no BuildKit features). Base images are build ARGs, so hosts without a
# registry can use a locally made base (see .ci/docker-base.sh). No secrets are baked in: credentials come
# from the environment at run time. Optional build inputs: container/ca-certificates/*.crt (TLS-intercepting
# proxies) and container/wheels/*.whl (local wheels, e.g. the CPU torch build).

ARG CUDA_BASE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
ARG CPU_BASE=debian:bookworm-slim

# ---------------------------------------------------------------- CPU worker
FROM ${CPU_BASE} AS worker-cpu
ARG TORCH_VERSION=2.13.0
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 LADDER_DATA_DIR=/data HF_HOME=/cache/hf
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY container/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates && python3 -m venv /opt/venv
COPY container/wheels/ /wheels/
RUN pip install --find-links /wheels "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md /src/
COPY harness /src/harness
COPY leaderboard /src/leaderboard
RUN pip install --find-links /wheels "/src" "torch==${TORCH_VERSION}" && rm -rf /wheels /src/build
COPY submissions /app/submissions
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin ladder \
 && mkdir -p /data /cache/hf && chown ladder:ladder /data
WORKDIR /app
USER 10001:10001
VOLUME ["/data", "/cache/hf"]
HEALTHCHECK --interval=60s --timeout=10s CMD ["ladder", "--help"]
ENTRYPOINT ["ladder"]
CMD ["worker"]

# ---------------------------------------------------------------- CUDA worker
FROM ${CUDA_BASE} AS worker
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 LADDER_DATA_DIR=/data HF_HOME=/cache/hf
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY container/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates && python3 -m venv /opt/venv
# vllm 0.33.0 pins torch 2.14.0 / torchvision 0.29.0 and a transformers range our pins share.
RUN pip install "vllm==0.33.0" "torch==2.14.0" "torchvision==0.29.0"
COPY pyproject.toml README.md /src/
COPY harness /src/harness
COPY leaderboard /src/leaderboard
RUN pip install "/src[gpu]" "torch==2.14.0" && rm -rf /src/build
COPY submissions /app/submissions
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin ladder \
 && mkdir -p /data /cache/hf && chown ladder:ladder /data
WORKDIR /app
USER 10001:10001
VOLUME ["/data", "/cache/hf"]
HEALTHCHECK --interval=60s --timeout=10s CMD ["ladder", "--help"]
ENTRYPOINT ["ladder"]
CMD ["worker"]
