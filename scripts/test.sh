#!/usr/bin/env bash
# README command 2: set up, lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
.venv/bin/ruff check --no-cache src tests benchmarks
.venv/bin/ruff format --no-cache --check src tests benchmarks
# One test worker per available core (pytest-xdist; tests/conftest.py pins each to its core), tests
# handed out as workers free up: the end-to-end runs take minutes each.
exec .venv/bin/python -m pytest -n auto --dist worksteal "$@"
