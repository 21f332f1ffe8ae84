#!/usr/bin/env bash
# Install what djs needs on Debian 12, only if something is missing.
# Sourced by tools/run and tools/test; safe to run again and again.
#   DJS_DEPS=run  build and run: compiler, CMake and the -dev libraries
#   DJS_DEPS=test also clang for sanitizers/libFuzzer, clang-format and the
#                 test clients
set -euo pipefail

djs_pkgs_run="build-essential cmake pkg-config liblmdb-dev libuv1-dev libmsgpack-dev libh2o-dev libssl-dev libjansson-dev libwslay-dev libcurl4-openssl-dev libyaml-dev tzdata"
djs_pkgs_test="check libsubunit-dev clang libclang-rt-14-dev clang-format lmdb-utils python3 curl prometheus python3-jwt python3-websockets openssl beanstalkd iproute2 python3-yaml systemd"

djs_install_deps() {
    local want="$djs_pkgs_run"
    [ "${1:-run}" = test ] && want="$want $djs_pkgs_test"
    local missing=""
    for p in $want; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "djs: missing packages:$missing; run as root or install sudo" >&2; return 1
        fi
    fi
    echo "djs: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # update the package lists first when they are missing or older than a day
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
        $sudo apt-get update -qq
    fi
    # shellcheck disable=SC2086
    if ! $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}
