#!/usr/bin/env bash
# README command 2: set up, lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/ruff check --no-cache src tests benchmarks
.venv/bin/ruff format --no-cache --check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
