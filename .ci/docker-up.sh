#!/usr/bin/env bash
# Make a Docker engine and the CPU worker image available on a host with no container registry:
#   1. install docker.io + debootstrap from Debian if missing, start dockerd if none answers;
#   2. build a Debian bookworm base image with debootstrap (no registry pull), once;
#   3. build the Dockerfile's worker-cpu target on it, with the host's local CA certificates and the
#      local CPU torch wheel (if present) as optional build inputs.
# Idempotent; prints the image name last. Used by the Docker executor test and `make docker-build`.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${LADDER_DOCKER_STATE:-/var/lib/ladder-docker}
BASE=${LADDER_DOCKER_BASE:-ladder-base:bookworm}
IMAGE=${LADDER_DOCKER_IMAGE:-verifier-ladder-worker-cpu:local}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  $SUDO mkdir -p "$STATE"
  $SUDO sh -c "dockerd --data-root '$STATE/data' --exec-root '$STATE/exec' -p '$STATE/dockerd.pid' \
    >'$STATE/dockerd.log' 2>&1 &"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $STATE/dockerd.log" >&2; exit 1; }
fi
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d)
  $SUDO debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
  $SUDO tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
  $SUDO rm -rf "$rootfs"
fi
cp /usr/local/share/ca-certificates/*.crt container/ca-certificates/ 2>/dev/null || true
cp /opt/wheels/torch-2.13.0+cpu-*.whl container/wheels/ 2>/dev/null || true
# --force-rm: the legacy builder would otherwise leave the containers of failed steps behind.
docker build -q --rm --force-rm --target worker-cpu --build-arg CPU_BASE="$BASE" -t "$IMAGE" . >/dev/null
echo "$IMAGE"
