#!/usr/bin/env bash
# Prepare a container engine for `autograder grade --runner container` and its tests, on a
# fresh Debian machine without a registry (see ../shared/ENVIRONMENT.md):
#   1. installs podman, runc and mmdebstrap (as root, with apt-get) when they are missing;
#   2. makes sure /etc/containers/containers.conf selects runc and no default ulimits;
#   3. starts `podman system service` on $SOCKET (Docker's API, for the docker SDK);
#   4. builds the base image from Debian's packages (mmdebstrap, `podman import`) if missing;
#   5. fills the wheelhouse (scripts/wheelhouse.sh) and builds the grader's image from the
#      Dockerfile, unless an image built from the same inputs is already there.
# Idempotent: a second run takes a second or two. Exit 0: ready (DOCKER_HOST printed);
# non-zero: not ready, the reason on stderr and in build/podman-setup.status, which the
# container tests show when they skip.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET=${AUTOGRADER_PODMAN_SOCKET:-/run/podman/podman.sock}
BASE_IMAGE=${AUTOGRADER_BASE_IMAGE:-localhost/autograder-base:bookworm}
IMAGE=${AUTOGRADER_IMAGE:-localhost/autograder:latest}
SUITE=${AUTOGRADER_BASE_SUITE:-bookworm}
STATUS=build/podman-setup.status
CONF=/etc/containers/containers.conf
mkdir -p build

say() { echo "podman-setup: $*"; }
fail() {
  echo "podman-setup: not ready: $*" >&2
  echo "failed $(date -u +%FT%TZ): $*" > "$STATUS"
  exit 1
}
seconds() { echo $(( $(date +%s) - $1 )); }

# One run at a time (tests in several processes may call this together).
exec 9> build/podman-setup.lock
flock 9

# 1. Packages.
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    fail "${missing[*]} missing, and installing needs root and apt-get"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } ||
    fail "apt-get could not install ${missing[*]}"
fi

# 2. containers.conf: crun cannot set RLIMIT_NOFILE/NPROC on these machines; runc can.
if [ ! -e "$CONF" ]; then
  [ "$(id -u)" = 0 ] || fail "$CONF is missing and writing it needs root"
  mkdir -p "$(dirname "$CONF")"
  printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' > "$CONF"
  say "wrote $CONF (runtime runc, no default ulimits)"
elif ! grep -q '^ *runtime *= *"runc"' "$CONF"; then
  say "warning: $CONF exists and does not select runc; left as it is (see ../shared/ENVIRONMENT.md)"
fi

# 3. The API service.
ping() {
  python3 - "$SOCKET" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
sys.exit(0 if b"OK" in s.recv(4096) else 1)
PY
}
if ! ping; then
  mkdir -p "$(dirname "$SOCKET")"
  rm -f "$SOCKET"
  setsid nohup podman system service --time=0 "unix://$SOCKET" > build/podman-service.log 2>&1 < /dev/null 9>&- &
  for _ in $(seq 50); do ping && break; sleep 0.2; done
  ping || fail "podman system service did not answer on $SOCKET: $(tail -3 build/podman-service.log)"
  say "started podman system service on $SOCKET"
fi

# 4. The base image, from Debian's packages (no registry is reachable here).
if ! podman image exists "$BASE_IMAGE"; then
  start=$(date +%s)
  tarball=$(mktemp --tmpdir autograder-base.XXXXXX.tar)
  trap 'rm -f "$tarball"' EXIT
  mmdebstrap --quiet --variant=apt --include=python3,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$SUITE" "$tarball" >/dev/null 2>build/mmdebstrap.log || fail "mmdebstrap failed: $(tail -3 build/mmdebstrap.log)"
  podman import --quiet "$tarball" "$BASE_IMAGE" >/dev/null || fail "podman import of the base image failed"
  rm -f "$tarball"
  say "built base image $BASE_IMAGE in $(seconds "$start") s"
fi

# 5. The grader's image, rebuilt only when its inputs changed.
scripts/wheelhouse.sh >/dev/null || fail "scripts/wheelhouse.sh could not fetch the pinned wheels"
inputs=$( { podman image inspect --format '{{.Id}}' "$BASE_IMAGE";
            find Dockerfile .dockerignore autograder build/wheelhouse/requirements.txt -type f \
              ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; } |
          sha256sum | cut -c1-16)
built=$(podman image inspect --format '{{index .Labels "autograder.inputs"}}' "$IMAGE" 2>/dev/null || true)
if [ "$built" != "$inputs" ]; then
  start=$(date +%s)
  old=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  podman build --quiet --build-arg "BASE=$BASE_IMAGE" --label "autograder.inputs=$inputs" -t "$IMAGE" . \
    > build/podman-build.log 2>&1 || fail "podman build failed: $(tail -5 build/podman-build.log)"
  new=$(podman image inspect --format '{{.Id}}' "$IMAGE")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
  say "built $IMAGE in $(seconds "$start") s"
fi

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "ready $(date -u +%FT%TZ): DOCKER_HOST=unix://$SOCKET image $IMAGE ($((size / 1000000)) MB)" > "$STATUS"
say "ready: DOCKER_HOST=unix://$SOCKET, image $IMAGE ($((size / 1000000)) MB)"
