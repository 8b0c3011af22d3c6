#!/usr/bin/env bash
# Regenerate docs/images/status-{healthy,failed-resource,quorum-lost}.png from real runs: the exporter
# serves saved outputs of the live 3-node cluster (--from tests/fixtures/scenarios/live-*), with an event
# store the real alert agent wrote from the drill's CRM_alert_* environments, and headless Chromium
# (Debian's chromium) takes the screenshots. Needs scripts/install.sh done; no root, no network.
# Usage: bash scripts/screenshots.sh [OUT_DIR]   (default docs/images)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.browser "$@"
