#!/usr/bin/env bash
# Print the path of a Python >= 3.10 to build the venv with, preferring 3.10 (the Function
# Compute runtime): python3.10 on PATH, then a pyenv-installed 3.10, then python3.
set -euo pipefail
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; }
candidates=(python3.10)
if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V -r); do
        candidates+=("$(pyenv root)/versions/${version}/bin/python3.10")
    done
fi
candidates+=(python3)
for candidate in "${candidates[@]}"; do
    if ok "${candidate}"; then
        command -v "${candidate}"
        exit 0
    fi
done
echo "find-python.sh: no Python >= 3.10 found" >&2
exit 1
