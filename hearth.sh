#!/usr/bin/env bash
# hearth.sh — the README's two commands on a fresh Debian 12 machine.
#   ./hearth.sh demo   install the Debian packages hearth needs, build, and run the default model on a
#                      bundled example payload
#   ./hearth.sh test   install, build and run every test
#   ./hearth.sh build  install and build only
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

install_packages() {
    local wanted missing=()
    wanted=$(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')
    for p in $wanted; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # Node.js and npm (for the client-library tests and tsc): Debian's, unless a newer one is already there
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "hearth.sh: installing ${missing[*]}" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

build() { make -j"$(nproc)" >/dev/null; }

case "${1:-demo}" in
    build) install_packages; build ;;
    test) install_packages; build; make test ;;
    demo)
        install_packages; build
        model=models/default.gguf
        [ -f "$model" ] || model=$(scripts/default-model.sh)
        echo "hearth.sh: running $model on examples/payload.json" >&2
        ./build/hearth run "$model" "Write TypeScript interfaces for this JSON payload." < examples/payload.json
        ;;
    *) echo "usage: ./hearth.sh [demo|test|build]" >&2; exit 2 ;;
esac
