#!/usr/bin/env bash
# The demo: install only what it needs (the Pacemaker CLI and a virtualenv, scripts/apt-packages-demo.txt),
# then serve the metrics of the embedded sample cluster state: the real crm_mon renders a saved CIB
# (CIB_file), no cluster needed. Nothing is enabled or started besides this one process; the test
# stack is scripts/test.sh's business. Extra arguments go to `pacemaker-exporter serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[demo] %s\n' "$*" >&2; }

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/apt-packages-demo.txt | grep -v '^$')
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "demo.sh: missing Debian packages ${missing[*]}: run as root, or apt-get install them" >&2
        exit 1
    fi
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import pacemaker_exporter, nagiosplugin' 2>/dev/null; then
    log "pip install -e . (pinned by constraints.txt)"
    .venv/bin/python -m pip install -q -c constraints.txt -e .
fi
exec .venv/bin/pacemaker-exporter serve --demo "$@"
