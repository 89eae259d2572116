# serve_lib.sh — shared by the server test scripts (sourced, not run): counting checks, cleaning up, starting
# a `hearth serve` on a free port, running a node client script and counting its checks.
# Needs HEARTH (the binary), tmp (a scratch folder), the array pids (servers to stop at exit), the counters
# pass and fail, and KEEP (non-empty: keep $tmp) and KEEP_LABEL (what $tmp holds, for the message).

ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "$KEEP" ]; then echo "$KEEP_LABEL kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# node_tally NAME SECONDS PREFIX SCRIPT ARGS...: run a node script (killed after SECONDS), show its output
# (each line led by "[NAME] " when PREFIX is 1), add its ok / not ok lines to the counters; a script that
# fails without a "not ok" line counts as one failure.
node_tally() {
    local name=$1 seconds=$2 prefix=$3 script=$4
    shift 4
    timeout "$seconds" node "$script" "$@" >"$tmp/$name.out" 2>&1
    local rc=$?
    if [ "$prefix" = 1 ]; then sed "s/^/[$name] /" "$tmp/$name.out"; else cat "$tmp/$name.out"; fi
    local n_ok n_bad
    n_ok=$(grep -c '^ok - ' "$tmp/$name.out")
    n_bad=$(grep -c '^not ok - ' "$tmp/$name.out")
    pass=$((pass + n_ok))
    fail=$((fail + n_bad))
    if [ "$rc" -ne 0 ] && [ "$n_bad" -eq 0 ]; then bad "$name: node exited with $rc"; fi
}

# start NAME ARGS...: a server on a free port; sets PORT and PID (and leaves its log in $tmp/NAME.log)
start() {
    local name=$1
    shift
    "$HEARTH" serve "$@" --port 0 >"$tmp/$name.log" 2>&1 &
    PID=$!
    pids+=("$PID")
    PORT=
    for _ in $(seq 200); do
        PORT=$(grep -o 'listening on http://[^ ]*:[0-9]*' "$tmp/$name.log" | grep -o '[0-9]*$')
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "server $name did not start:" >&2
    cat "$tmp/$name.log" >&2
    return 1
}
