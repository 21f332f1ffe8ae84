#!/usr/bin/env bash
# Install what djs needs on Debian 12, only if something is missing.
# Sourced by tools/run and tools/test; safe to run again and again.
#   DJS_DEPS=run  build and run: compiler, CMake and the -dev libraries
#   DJS_DEPS=test also clang for sanitizers/libFuzzer, clang-format and the
#                 test clients (Chromium for the dashboard's browser tests)
# The dashboard (ui/) is built with Node.js >= 20 and npm when the machine has
# them; Debian 12's own nodejs is 18, too old for Vite 8, so it is not
# installed from here: without it djs embeds a stub page that says so.
set -euo pipefail

djs_pkgs_run="build-essential cmake pkg-config liblmdb-dev libuv1-dev libmsgpack-dev libh2o-dev libssl-dev libjansson-dev libwslay-dev libcurl4-openssl-dev libyaml-dev tzdata brotli libraft-dev"
djs_pkgs_test="check libsubunit-dev clang libclang-rt-14-dev clang-format lmdb-utils python3 curl prometheus python3-jwt python3-websockets openssl beanstalkd iproute2 python3-yaml systemd chromium"

# The replicated log (cluster/) needs libraft 0.22.1, which Debian 12 has
# only in bookworm-backports (bookworm's own 0.15.0 predates safety fixes:
# README, "Dependencies"). This adds that suite with a pin that takes
# nothing from it but the three libraft packages.
djs_backports_src=/etc/apt/sources.list.d/djs-bookworm-backports.sources
djs_backports_pin=/etc/apt/preferences.d/djs-backports
djs_add_backports() {
    local sudo=$1
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" \
            "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
            $sudo tee "$djs_backports_src" >/dev/null
    fi
    if [ ! -e "$djs_backports_pin" ]; then
        printf '%s\n' "# djs: take only libraft (0.22.1) from bookworm-backports; nothing else." \
            "Package: *" "Pin: release n=bookworm-backports" "Pin-Priority: 1" "" \
            "Package: libraft-dev libraft0 libraft-tools" "Pin: release n=bookworm-backports" "Pin-Priority: 990" |
            $sudo tee "$djs_backports_pin" >/dev/null
    fi
}

djs_install_deps() {
    local want="$djs_pkgs_run"
    [ "${1:-run}" = test ] && want="$want $djs_pkgs_test"
    local missing=""
    for p in $want; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        elif [ "$p" = libraft-dev ] && ! dpkg-query -W -f='${Version}' libraft-dev | grep -q '^0\.2[2-9]'; then
            missing="$missing $p" # bookworm's 0.15: upgrade from backports
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
    local fresh=""
    case " $missing " in *" libraft-dev "*)
        [ -e "$djs_backports_pin" ] || fresh=1
        djs_add_backports "$sudo" ;;
    esac
    # update the package lists first when they are missing, older than a day,
    # or the backports suite was just added
    if [ -n "$fresh" ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
        $sudo apt-get update -qq
    fi
    # shellcheck disable=SC2086
    if ! $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

# Says, once, why the dashboard will be a stub page on this machine.
djs_ui_note() {
    local v
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "djs: no Node.js/npm here: djs embeds a stub page instead of the dashboard" >&2
        echo "djs:   install Node.js >= 20 with npm (e.g. from nodejs.org or NodeSource) and build again" >&2
        return 0
    fi
    v=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$v" -lt 20 ]; then
        echo "djs: Node.js $(node --version) is too old for the dashboard (Vite 8 needs >= 20): djs embeds a stub page" >&2
    fi
}
