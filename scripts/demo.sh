#!/usr/bin/env bash
# Install everything (scripts/install.sh), then run the exporter on its embedded sample cluster
# state: the real crm_mon renders a saved CIB (CIB_file), no cluster needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/pacemaker-exporter serve --demo "$@"
