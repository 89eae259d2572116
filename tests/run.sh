#!/usr/bin/env bash
# Runs every test: the C test binaries in build/tests and the shell tests tests/*.test.sh (which drive the
# hearth binary as a user would). Prints one line per test and a closing "N passed, M failed" line.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=()
for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
for t in tests/*.test.sh; do
    [ -f "$t" ] || continue
    if bash "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
