#!/usr/bin/env bash
# Install everything (scripts/install.sh), then run the whole test suite: lint, types, and every
# pytest tier (unit, real-tool, live cluster, monitoring stack). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pacemaker-exporter generate --check
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
