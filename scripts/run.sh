#!/usr/bin/env bash
# README command 1: set up, then run the main job (`kedro run` on the embedded default: the simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec .venv/bin/kedro run "$@"
