#!/usr/bin/env bash
# Download the grader's pinned wheels into build/wheelhouse/ (the image installs them with
# --no-index, so the image build itself needs no network). Quick when they are already there.
#
#   scripts/wheelhouse.sh [--dest DIR] [--torch-index URL] [--python 3.12]
#
# --torch-index: where torch comes from (default: pip's own configuration, which here holds
#   the CPU wheel; elsewhere pass https://download.pytorch.org/whl/cpu, or a CUDA index for
#   the GPU image). --python: the base image's Python, when it is not this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=build/wheelhouse
TORCH_INDEX=""
PY_VERSION=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) DEST="$2"; shift 2 ;;
    --torch-index) TORCH_INDEX="$2"; shift 2 ;;
    --python) PY_VERSION="$2"; shift 2 ;;
    *) echo "usage: $0 [--dest DIR] [--torch-index URL] [--python X.Y]" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-$(test -x .venv/bin/python && echo .venv/bin/python || echo python3)}
REQUIREMENTS=autograder/container/requirements.txt
mkdir -p "$DEST"

pins() { grep -v '^\s*#' "$REQUIREMENTS" | grep '=='; }
# The first pin without a wheel in $DEST (names compared as wheels spell them), or nothing.
first_missing() {
  local pin name
  while read -r pin; do
    name=$(echo "${pin%%==*}" | tr 'A-Z-' 'a-z_')
    ls "$DEST" | tr 'A-Z' 'a-z' | grep -q "^${name}-${pin#*==}[-+]" || { echo "$pin"; return; }
  done < <(pins)
}

# Done already when the list is unchanged and every pin has its wheel.
if cmp -s "$REQUIREMENTS" "$DEST/requirements.txt" && [ -z "$(first_missing)" ]; then
  echo "wheelhouse: up to date ($DEST)"
  exit 0
fi

platform=()
if [ -n "$PY_VERSION" ]; then
  platform=(--python-version "$PY_VERSION" --platform manylinux_2_28_x86_64 --only-binary=:all:)
fi
if [ -n "$TORCH_INDEX" ]; then
  # With its dependencies: a CUDA build of torch needs the nvidia-* wheels from that index too.
  "$PYTHON" -m pip download --quiet --dest "$DEST" "${platform[@]}" --index-url "$TORCH_INDEX" \
    "$(grep '^torch==' "$REQUIREMENTS")"
fi
# (pip's "is ignored" lines are about index folders this machine's pip.conf names but lacks.)
"$PYTHON" -m pip download --quiet --no-deps --dest "$DEST" "${platform[@]}" -r "$REQUIREMENTS" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
missing=$(first_missing)
if [ -n "$missing" ]; then
  echo "wheelhouse: no wheel for $missing" >&2
  exit 1
fi
cp "$REQUIREMENTS" "$DEST/requirements.txt"
echo "wheelhouse: $(ls "$DEST"/*.whl | wc -l) wheels in $DEST ($(du -sh "$DEST" | cut -f1))"
