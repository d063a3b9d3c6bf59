#!/usr/bin/env bash
# Print the path of a Python to build a venv with. With no argument: a Python >= 3.10, preferring
# 3.10 (the default Function Compute runtime): python3.10 on PATH, then a pyenv-installed 3.10,
# then python3. With a version (3.12): exactly that version, on PATH or installed by pyenv.
set -euo pipefail
want="${1:-}"
version="${want:-3.10}"
ok() {
    if [[ -n "${want}" ]]; then
        "$1" -c "import sys; sys.exit(0 if sys.version_info[:2] == tuple(map(int, '${want}'.split('.'))) else 1)" >/dev/null 2>&1
    else
        "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
    fi
}
candidates=("python${version}")
if command -v pyenv >/dev/null 2>&1; then
    for found in $(pyenv versions --bare 2>/dev/null | grep -E "^${version//./\\.}(\.|$)" | sort -V -r); do
        candidates+=("$(pyenv root)/versions/${found}/bin/python${version}")
    done
fi
[[ -z "${want}" ]] && candidates+=(python3)
for candidate in "${candidates[@]}"; do
    if ok "${candidate}"; then
        command -v "${candidate}"
        exit 0
    fi
done
echo "find-python.sh: no Python ${want:->= 3.10} found" >&2
exit 1
