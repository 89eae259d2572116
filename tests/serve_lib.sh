# serve_lib.sh — shared by the server test scripts (sourced, not run): start a `hearth serve` on a free port.
# Needs HEARTH (the binary), tmp (a scratch folder) and the array pids (servers to stop at exit).

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
