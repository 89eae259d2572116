#!/usr/bin/env bash
# The engine's fidelity fixtures (test_fidelity: hearth against transformers and llama.cpp) and the session
# tests once per x86 kernel path this CPU can run, forced with HEARTH_ISA. The plain test run uses only the
# best path; test_kernels proves the paths bit-identical product by product, and this proves it where it
# matters: whole forward passes still meet the references on every path. (NEON: tests/neon.test.sh.)
set -u
cd "$(dirname "$0")/.."
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for isa in portable avx2 avx512; do
    for t in build/tests/test_fidelity build/tests/test_session; do
        [ -x "$t" ] || { echo "fidelity_isa.test.sh: $t not built"; exit 1; }
        err=$tmp/err
        HEARTH_ISA=$isa "$t" >"$err.out" 2>"$err"
        rc=$?
        if grep -q "is not available on this CPU" "$err"; then
            echo "fidelity_isa.test.sh: $isa not available here, skipped"
            break
        fi
        if [ $rc -ne 0 ]; then
            echo "fidelity_isa.test.sh: $t failed with HEARTH_ISA=$isa"
            cat "$err.out" "$err"
            status=1
        else
            echo "fidelity_isa.test.sh: $t passed with HEARTH_ISA=$isa"
        fi
    done
done
exit $status
