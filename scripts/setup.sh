#!/usr/bin/env bash
# Create .venv and install the project with its pinned-range dependencies (idempotent).
# torch/torchvision first, by exact version: this machine serves that pair from local disk.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  .venv/bin/python -m pip install -q -e ".[dev]"
  .venv/bin/python -c "import torch, torchvision, kedro, mediapipe, cv2, timm" \
    || { echo "setup: the environment does not import; see pip's output above" >&2; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Kedro telemetry stays off (also set in .telemetry); MLflow's file store guard is not needed (sqlite).
export KEDRO_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1
