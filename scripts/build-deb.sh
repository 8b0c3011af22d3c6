#!/usr/bin/env bash
# Build the Debian package from this checkout: dist/pacemaker-exporter_<version>_all.deb.
# Debian's own tools (debhelper, dh-python/pybuild; scripts/apt-packages.txt) build it in a temporary
# copy of the repository's files (tracked, plus untracked ones git does not ignore), so the checkout
# gets no build droppings. Needs no root. Prints the path of the package.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

for tool in dpkg-buildpackage dh pybuild; do
    command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool missing: bash scripts/install.sh (as root)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -P -t "$work/src"

# Debian's python3 and tools only: a python3 earlier on PATH (pyenv, a venv) lacks Debian's modules
(cd "$work/src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed" >&2
    exit 1
}
mkdir -p "$top/dist"
for deb in "$work"/*.deb; do
    cp "$deb" "$top/dist/"
    echo "$top/dist/$(basename "$deb")"
done
