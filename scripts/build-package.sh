#!/usr/bin/env bash
# Lays out the function's source for `fun build`, with the extras you name: build/template.yml and
# build/function/ (a copy of function/ whose requirements.txt has the extras' requirements added).
#
# `fun build` installs the requirements.txt of the template's CodeUri (./function), and
# function/requirements.txt is the runtime on Alibaba Cloud alone: boto3 (extra `aws`: AWS keys,
# aws-secret sources, CloudWatch) and python-pkcs11 (extra `pkcs11`: pkcs11 sources) are left out.
# A configuration that uses either needs its extra in the package:
#
#   scripts/build-package.sh aws pkcs11    # or: make package EXTRAS="aws pkcs11"
#   cd build && fun build && fun deploy --use-ros --stack-name byok-renewer ...
#
# With no extra it lays out the default package (the same as `fun build` in the repo root).
# BUILD_DIR names another folder than build/. Nothing is installed or downloaded here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${BUILD_DIR:-build}"

for extra in "$@"; do
    if [[ ! "${extra}" =~ ^(aws|pkcs11)$ ]]; then
        echo "build-package.sh: unknown extra '${extra}' (the extras are: aws, pkcs11)" >&2
        exit 2
    fi
done

rm -rf "${out}/function"
mkdir -p "${out}"
cp template.yml "${out}/template.yml"
cp -R function "${out}/function"
find "${out}/function" -depth \( -name __pycache__ -o -name .fun \) -exec rm -rf {} +

# function/requirements-EXTRA.txt is `-r requirements.txt` plus the extra's lines: add those lines.
{
    cat function/requirements.txt
    for extra in "$@"; do
        echo "# extra: ${extra}"
        grep -Ev '^[[:space:]]*(#|-r[[:space:]]|$)' "function/requirements-${extra}.txt"
    done
} >"${out}/function/requirements.txt"

echo "laid out ${out}/ (extras: ${*:-none}); next: cd ${out} && fun build"
