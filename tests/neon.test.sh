#!/usr/bin/env bash
# The AArch64 NEON kernels against the portable ones, bit for bit: cross-compiles libhearth and test_kernels
# with Debian's aarch64 cross compiler and runs them under qemu-user, once on a CPU without the dot-product
# extension (cortex-a57: plain NEON) and once with everything (-cpu max: NEON and sdot).
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (scripts/debian-packages.txt).
set -eu
cd "$(dirname "$0")/.."
CC=aarch64-linux-gnu-gcc
for tool in "$CC" aarch64-linux-gnu-ar qemu-aarch64; do
    command -v "$tool" >/dev/null || { echo "neon.test.sh: $tool not installed (see scripts/debian-packages.txt)"; exit 1; }
done
B=build/aarch64
# the kernels test needs no JSON or HTTP libraries (which have no arm64 build installed here)
make -s BUILD=$B CC=$CC AR=aarch64-linux-gnu-ar LDLIBS="-lm -pthread" $B/tests/test_kernels
for cpu in cortex-a57 max; do
    echo "neon.test.sh: qemu-aarch64 -cpu $cpu"
    qemu-aarch64 -cpu $cpu -L /usr/aarch64-linux-gnu $B/tests/test_kernels
done
