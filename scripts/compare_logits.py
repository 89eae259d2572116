#!/usr/bin/env python3
"""Compare logits files: max |Δ| / max |ref|, and argmax agreement per position.
usage: compare_logits.py REF.f32 OURS.f32 N_VOCAB"""
import struct, sys
def load(p, nv):
    data = open(p, 'rb').read()
    n = len(data) // 4
    vals = struct.unpack('<%df' % n, data)
    return [vals[i:i + nv] for i in range(0, n, nv)]
ref, ours, nv = sys.argv[1], sys.argv[2], int(sys.argv[3])
a, b = load(ref, nv), load(ours, nv)
assert len(a) == len(b), (len(a), len(b))
maxref = max(abs(x) for row in a for x in row)
maxd = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
agree = sum(max(range(nv), key=ra.__getitem__) == max(range(nv), key=rb.__getitem__) for ra, rb in zip(a, b))
rms = (sum((x - y) ** 2 for ra, rb in zip(a, b) for x, y in zip(ra, rb)) / sum(x * x for ra in a for x in ra)) ** 0.5
print(f"rel_err={maxd / maxref:.3e} rms_rel={rms:.3e} argmax={agree}/{len(a)}")
