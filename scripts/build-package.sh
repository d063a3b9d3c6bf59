#!/usr/bin/env bash
# Builds the function's code package, with the configuration it will run with and the extras you name:
#
#   scripts/build-package.sh [--deps] [EXTRA...]      # or: make package (always --deps)
#
# 1. Validates the configuration CONFIG (default function/renewer.yml) with the function's own code
#    (scripts/check_config.py: what the function would refuse, and an extra the configuration needs
#    but the package lacks) and refuses to build, with the function's message and exit status 2, when
#    it is missing or invalid. Nothing is written before it passes.
# 2. build/RUNTIME/ (RUNTIME: python3.10 or python3.12, default python3.10), the folder s.yaml
#    deploys: index.py, renewer/ and the configuration as renewer.yml (RENEWER_CONFIG_FILE in s.yaml).
#    With --deps, the dependencies too (function/requirements.txt and each extra's), installed for
#    Function Compute's platform, Linux x86_64 with RUNTIME's Python, whatever this machine is:
#      a. `pip wheel` builds a wheel of every requirement into build/wheels/RUNTIME/. Some are
#         published as source only (aliyun-fc2, alibabacloud-tea-xml, the darabonba-* helpers...);
#         they are pure Python, so their wheels (py3-none-any) fit any platform.
#      b. `pip install --target build/RUNTIME --platform manylinux2014_x86_64 --python-version X.Y
#         --implementation cp --only-binary=:all: --find-links build/wheels/RUNTIME` installs the
#         requirements: those wheels for the source-only packages, PyPI's manylinux2014 wheels
#         for the rest. A dependency with native code that PyPI has as source only cannot be
#         installed this way: pip stops, rather than ship a build for this machine.
#    Both reach the package index pip is configured with (PyPI): run it where `make` can install.
# 3. build/template.yml and build/function/ (a copy of function/ whose requirements.txt has the
#    extras' requirements added, and the configuration as renewer.yml), for `fun build` (README,
#    Deployment 5).
#
# Extras: boto3 (`aws`: AWS keys, aws-secret sources, CloudWatch), python-pkcs11 (`pkcs11`: pkcs11
# sources), gmalg (`sm2`: the SM2PKE wrapping algorithm; pure Python). BUILD_DIR names another folder
# than build/; PYTHON the interpreter (default .venv's).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${BUILD_DIR:-build}"
config="${CONFIG:-function/renewer.yml}"
runtime="${RUNTIME:-python3.10}"
python="${PYTHON:-}"
if [[ -z "${python}" ]]; then
    if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
fi

deps=0
extras=()
for arg in "$@"; do
    case "${arg}" in
        --deps) deps=1 ;;
        aws | pkcs11 | sm2) extras+=("${arg}") ;;
        *)
            echo "build-package.sh: unknown extra '${arg}' (the extras are: aws, pkcs11, sm2)" >&2
            exit 2
            ;;
    esac
done

case "${runtime}" in
    python3.10) python_version=3.10 ;;
    python3.12) python_version=3.12 ;;
    *)
        echo "build-package.sh: RUNTIME=${runtime} is not supported (python3.10 or python3.12)" >&2
        exit 2
        ;;
esac

if [[ ! -f "${config}" ]]; then
    echo "build-package.sh: no configuration: CONFIG=${config} is not a file; nothing was built." >&2
    echo "  Write one (function/renewer.example.yml is an example; README, Configuration) and give" >&2
    echo "  its path: make package CONFIG=path/to/renewer.yml" >&2
    exit 2
fi
if ! "${python}" scripts/check_config.py "${config}" ${extras[@]+"${extras[@]}"}; then
    echo "build-package.sh: the configuration ${config} is refused (above); nothing was built." >&2
    exit 2
fi

rm -rf "${out}/function" "${out:?}/${runtime}"
mkdir -p "${out}"

# For `fun build`: template.yml and function/ with the extras' requirements added (each
# function/requirements-EXTRA.txt is `-r requirements.txt` plus the extra's lines).
cp template.yml "${out}/template.yml"
cp -R function "${out}/function"
find "${out}/function" -depth \( -name __pycache__ -o -name .fun \) -exec rm -rf {} +
{
    cat function/requirements.txt
    for extra in ${extras[@]+"${extras[@]}"}; do
        echo "# extra: ${extra}"
        grep -Ev '^[[:space:]]*(#|-r[[:space:]]|$)' "function/requirements-${extra}.txt"
    done
} >"${out}/function/requirements.txt"
cp "${config}" "${out}/function/renewer.yml"

# For s.yaml (code: ./build/RUNTIME): the dependencies first, so that none can shadow the function's files.
code="${out}/${runtime}"
mkdir -p "${code}"
if [[ "${deps}" == 1 ]]; then
    wheels="${out}/wheels/${runtime}"
    rm -rf "${wheels}"
    requirements=(-r function/requirements.txt)
    for extra in ${extras[@]+"${extras[@]}"}; do
        requirements+=(-r "function/requirements-${extra}.txt")
    done
    "${python}" -m pip wheel --quiet --wheel-dir "${wheels}" "${requirements[@]}"
    "${python}" -m pip install --quiet --no-compile --no-warn-conflicts --target "${code}" \
        --platform manylinux2014_x86_64 --python-version "${python_version}" --implementation cp \
        --only-binary=:all: --find-links "${wheels}" "${requirements[@]}"
fi
cp function/index.py "${code}/index.py"
cp -R function/renewer "${code}/renewer"
find "${code}/renewer" -depth -name __pycache__ -exec rm -rf {} +
cp "${config}" "${code}/renewer.yml"

shown="${extras[*]+${extras[*]}}"
if [[ "${deps}" == 1 ]]; then installed="with its dependencies"; else installed="without dependencies (--deps adds them)"; fi
echo "built ${code}/ for s.yaml: ${runtime}, ${installed}, extras: ${shown:-none}, configuration: ${config}"
echo "  and ${out}/function/ for fun build. Next: s deploy (README, Deployment 3)"
