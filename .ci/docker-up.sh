#!/usr/bin/env bash
# Make a Docker engine and the CPU stack's images available on a host with no container registry:
#   1. install docker.io, docker-compose and debootstrap from Debian if missing, start dockerd if none answers;
#   2. build a Debian bookworm base image with debootstrap (no registry pull), once;
#   3. build on it, with the host's local CA certificates and the local CPU torch wheel (if present) as
#      optional build inputs: the worker (Dockerfile target `worker` with the CPU build ARGs), the leaderboard
#      (target `web`) and PostgreSQL (container/postgres).
# Idempotent (cached layers); prints the worker image name last. Used by the Docker tests, `make docker-build`
# and `make test-stack`.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${LADDER_DOCKER_STATE:-/var/lib/ladder-docker}
BASE=${LADDER_DOCKER_BASE:-ladder-base:bookworm}
IMAGE=${LADDER_DOCKER_IMAGE:-verifier-ladder-worker-cpu:local}
WEB_IMAGE=${LADDER_WEB_IMAGE:-verifier-ladder-web:local}
DB_IMAGE=${LADDER_POSTGRES_IMAGE:-verifier-ladder-postgres:local}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v docker-compose >/dev/null
then
  $SUDO apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null 2>&1 || {
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null; }
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
# The legacy builder runs every stage before the target, so both builds get every ARG (the worker stage is then
# a cache hit when building web).
build() { docker build -q --rm --force-rm "$@" >/dev/null; }
args=(--build-arg WORKER_BASE="$BASE" --build-arg WEB_BASE="$BASE" --build-arg TORCH_SPEC=torch==2.13.0
      --build-arg EXTRAS=cpu --build-arg CONSTRAINTS=/constraints.txt)
build --target worker "${args[@]}" -t "$IMAGE" .
build --target web "${args[@]}" -t "$WEB_IMAGE" .
build --build-arg BASE="$BASE" -t "$DB_IMAGE" container/postgres
# Rebuilds leave the previous images of these tags dangling: remove ours (and only ours) by their label.
docker image prune -f --filter label=verifier-ladder.image >/dev/null
echo "$IMAGE"
