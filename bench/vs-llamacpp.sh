#!/usr/bin/env bash
# vs-llamacpp.sh — compare hearth with llama.cpp on the same GGUF files (see vs-llamacpp.mjs for the method).
#
#   bench/vs-llamacpp.sh [-r ROUNDS] [--hearth-rounds K] [-t 2] [-p 512] [-n 128] MODEL.gguf [...]
#
# llama.cpp runs through the npm package node-llama-cpp, at the version pinned in bench/package.json. It is
# taken from bench/node_modules; when that is missing, from $NODE_LLAMA_CPP_DIR or /opt/ref/node_modules if
# one holds the same version; otherwise `npm install` puts it into bench/node_modules. build/hearth is built
# with make when missing. Output: a markdown table on stdout, progress on stderr, raw runs appended to
# bench/results/runs.jsonl (or --out FILE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

want=$(node -e 'console.log(require(process.argv[1]).dependencies["node-llama-cpp"])' "$here/package.json")
version_of() { node -e 'try { console.log(require(process.argv[1] + "/package.json").version) } catch { console.log("") }' "$1"; }

module=""
for dir in "$here/node_modules/node-llama-cpp" "${NODE_LLAMA_CPP_DIR:-}" /opt/ref/node_modules/node-llama-cpp; do
    [ -n "$dir" ] && [ -d "$dir" ] || continue
    if [ "$(version_of "$dir")" = "$want" ]; then module=$dir; break; fi
done
if [ -z "$module" ]; then
    echo "vs-llamacpp: installing node-llama-cpp $want into bench/node_modules" >&2
    (cd "$here" && npm install --no-audit --no-fund >&2)
    module="$here/node_modules/node-llama-cpp"
fi
[ -x "$root/build/hearth" ] || make -C "$root" -j"$(nproc)" build/hearth >&2

mkdir -p "$here/results"
out="$here/results/runs.jsonl"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
exec node "$here/vs-llamacpp.mjs" --hearth "$root/build/hearth" --module "$module" --out "$out" "${args[@]}"
