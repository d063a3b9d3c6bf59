#!/usr/bin/env bash
# Install the pinned Funcraft CLI (@alicloud/fun 3.6.24) into ./node_modules of the repo root.
#
# Used by tests/test_template.py, which runs the real `fun validate` on template.yml.
# The version and all ~700 transitive packages are pinned by package.json + package-lock.json
# (the lockfile carries integrity hashes and no registry URLs: npm uses its configured registry).
#
# --ignore-scripts is deliberate and safe here. The install scripts it skips are:
#   @alicloud/fun  postinstall: only checks the Node version against engines.node (>=8.6.0);
#   ssh2, cpu-features: optional native builds (node-gyp); ssh2 falls back to pure JS, and
#                       fun only uses it for Docker-over-SSH, never for `validate`;
#   protobufjs     postinstall: creates an empty folder for its own CLI; core-js: a banner.
# None of them is needed by `fun validate` or `fun --version`; node-gyp would need a compiler.
#
# Idempotent: does nothing if node_modules/.bin/fun already reports the pinned version.
set -euo pipefail

readonly FUN_VERSION="3.6.24"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Keep fun from asking the registry for a newer version each time it runs.
export FUN_DISABLE_VERSION_CHECK=1

installed_version() {
    if [[ -x node_modules/.bin/fun ]]; then
        node_modules/.bin/fun --version 2>/dev/null || true
    fi
}

if [[ "$(installed_version)" == "${FUN_VERSION}" ]]; then
    echo "fun ${FUN_VERSION} is already installed in node_modules/"
    exit 0
fi

command -v node >/dev/null || { echo "install-fun.sh: node is not on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-fun.sh: npm is not on PATH" >&2; exit 1; }

# `npm ci` installs exactly what package-lock.json says (and fails if it disagrees with
# package.json); it replaces any existing node_modules/.
npm ci --ignore-scripts --no-audit --no-fund

actual="$(installed_version)"
if [[ "${actual}" != "${FUN_VERSION}" ]]; then
    echo "install-fun.sh: expected fun ${FUN_VERSION}, node_modules/.bin/fun --version says '${actual}'" >&2
    exit 1
fi
echo "installed fun ${FUN_VERSION} in node_modules/"
