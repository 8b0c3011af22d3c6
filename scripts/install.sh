#!/usr/bin/env bash
# Install everything pacemaker-exporter and its test suite need on Debian 12, as root:
# the Debian packages listed in scripts/apt-packages.txt, and a virtualenv (.venv) with the project
# installed from this checkout, its versions pinned by constraints.txt. Idempotent: a second run
# installs nothing new and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[install] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/apt-packages.txt | grep -v '^$')
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d: packages must not start their daemons here (tests start what they need, by PID)
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import pacemaker_exporter, nagiosplugin, pytest, hypothesis' 2>/dev/null \
        || [ setup.cfg -nt .venv/.installed ] || [ constraints.txt -nt .venv/.installed ]; then
    log "pip install -e .[test] (pinned by constraints.txt)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
    touch .venv/.installed
fi
# Grafana's schema package + tsc for tests/test_grafana_schema.py (pinned by its package-lock.json)
if command -v npm >/dev/null && [ ! tests/grafana-schema/node_modules/.package-lock.json -nt tests/grafana-schema/package-lock.json ]; then
    log "npm ci in tests/grafana-schema" && (cd tests/grafana-schema && npm ci --no-audit --no-fund --loglevel=error)
fi
log "ready: $(.venv/bin/pacemaker-exporter --version)"
