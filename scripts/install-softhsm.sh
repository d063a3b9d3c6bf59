#!/usr/bin/env bash
# Install SoftHSM 2 (Debian's softhsm2 and libsofthsm2) into ./.softhsm of the repo root for the
# PKCS#11 tests (tests/function/test_pkcs11.py), changing nothing system-wide: `apt-get download`
# fetches the two packages and `dpkg-deb -x` unpacks them here; nothing is installed with dpkg.
#
# Result (what `make test` passes to pytest as SOFTHSM2_UTIL and SOFTHSM2_LIB):
#   .softhsm/bin/softhsm2-util  ->  the unpacked /usr/bin/softhsm2-util
#   .softhsm/lib/libsofthsm2.so ->  the unpacked /usr/lib/<multiarch>/softhsm/libsofthsm2.so
#
# The packages' shared-library dependencies (libssl3, libstdc++6, libgcc-s1, libsqlite3-0) are
# part of the Debian 12 base image; the script checks with ldd that none is missing and that the
# unpacked tool initialises a token with the unpacked library, and fails otherwise (it never falls
# back to installing system-wide). softhsm2-common (only /etc/softhsm/softhsm2.conf) is not needed:
# the tests always set SOFTHSM2_CONF.
#
# Needs Debian's package lists: when they are empty, or stale (the download fails), it runs
# `apt-get update` once (root only). Idempotent: does nothing if .softhsm/ already passes the check.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly DEST=.softhsm
readonly PACKAGES=(softhsm2 libsofthsm2)

die() {
    echo "install-softhsm.sh: $*" >&2
    exit 1
}

# Initialise a throw-away token with the given tool and library: proves both load and work.
check() {
    local util="$1" lib="$2" dir status=0
    [[ -x "${util}" && -f "${lib}" ]] || return 1
    dir="$(mktemp -d)"
    mkdir "${dir}/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "${dir}/tokens" >"${dir}/softhsm2.conf"
    SOFTHSM2_CONF="${dir}/softhsm2.conf" "${util}" --module "${lib}" --init-token --free --label check \
        --pin 1234 --so-pin 5678 >"${dir}/out" 2>&1 || status=$?
    if [[ ${status} -ne 0 ]]; then
        cat "${dir}/out" >&2
    fi
    rm -rf "${dir}"
    return "${status}"
}

if check "${DEST}/bin/softhsm2-util" "${DEST}/lib/libsofthsm2.so" 2>/dev/null; then
    echo "SoftHSM 2 is already unpacked in ${DEST}/"
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get is not on PATH (this script expects Debian)"
command -v dpkg-deb >/dev/null || die "dpkg-deb is not on PATH (this script expects Debian)"

apt_options=(-qq)
if [[ ${EUID} -eq 0 ]]; then
    apt_options+=(-o APT::Sandbox::User=root) # root downloads into a folder apt's _apt user cannot write
fi

update_lists() {
    [[ ${EUID} -eq 0 ]] || die "Debian's package lists are empty or stale; run \`apt-get update\` as root"
    echo "install-softhsm.sh: apt-get update"
    apt-get update -qq
}

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

if ! apt-cache show "${PACKAGES[@]}" >/dev/null 2>&1; then
    update_lists
fi
if ! (cd "${work}" && apt-get download "${apt_options[@]}" "${PACKAGES[@]}"); then
    update_lists # the lists name versions the mirror no longer has
    (cd "${work}" && apt-get download "${apt_options[@]}" "${PACKAGES[@]}") || die "apt-get download failed"
fi

staging="${work}/softhsm" # moved into place only once it works
mkdir -p "${staging}/bin" "${staging}/lib"
for deb in "${work}"/*.deb; do
    dpkg-deb -x "${deb}" "${staging}/root"
done
util="$(find "${staging}/root/usr/bin" -name softhsm2-util -type f | head -n 1)"
lib="$(find "${staging}/root/usr/lib" -name libsofthsm2.so -type f | head -n 1)"
[[ -n "${util}" && -n "${lib}" ]] || die "the packages hold no softhsm2-util or libsofthsm2.so"
ln -s "../${util#"${staging}/"}" "${staging}/bin/softhsm2-util"
ln -s "../${lib#"${staging}/"}" "${staging}/lib/libsofthsm2.so"

missing="$(ldd "${util}" "${lib}" | grep 'not found' || true)"
[[ -z "${missing}" ]] || die "shared libraries missing on this machine (apt-get install them):
${missing}"
check "${staging}/bin/softhsm2-util" "${staging}/lib/libsofthsm2.so" || die "the unpacked SoftHSM does not work"

rm -rf "${DEST}"
mv "${staging}" "${DEST}"
echo "unpacked $("${DEST}/bin/softhsm2-util" --version | head -n 1 | sed 's/^/SoftHSM /') in ${DEST}/ (nothing installed system-wide)"
