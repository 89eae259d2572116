#!/usr/bin/env bash
# grammar.test.sh — property test of constrained output: test_grammar --property generates ~120 seeded
# random JSON Schemas and samples outputs for each from random-weight fixture models (nothing but the
# grammar makes them valid); then python3-jsonschema, an independent validator, is the referee: every
# output must parse as JSON and validate against its schema (formats checked too). Prints one line.
set -u
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./build/tests/test_grammar --property "$dir" || gen_failed=1
python3 - "$dir" <<'PY'
import json, sys, os
import jsonschema
d = sys.argv[1]
n = bad = 0
incomplete = 0
for line in open(os.path.join(d, "index.tsv")):
    schema_f, out_f, status, n_tok, model = line.rstrip("\n").split("\t")
    n += 1
    schema = json.load(open(os.path.join(d, schema_f)))
    if status != "complete":
        incomplete += 1
    text = ""
    try:
        text = open(os.path.join(d, out_f), encoding="utf-8", errors="strict").read()
        doc = json.loads(text)
        cls = jsonschema.validators.validator_for(schema)
        cls(schema, format_checker=cls.FORMAT_CHECKER).validate(doc)
    except Exception as e:
        bad += 1
        if bad <= 5:
            print(f"INVALID {out_f} ({model}, {status}, {n_tok} tokens): {type(e).__name__}: {str(e)[:300]}\n"
                  f"  schema: {json.dumps(schema)[:600]}\n  output: {text[:400]!r}", file=sys.stderr)
from importlib.metadata import version
print(f"grammar.test.sh: {n - bad}/{n} outputs valid JSON for their schema (python-jsonschema {version('jsonschema')}), "
      f"{incomplete} incomplete")
sys.exit(1 if bad or incomplete or n == 0 else 0)
PY
rc=$?
[ "${gen_failed:-0}" = 1 ] && rc=1
exit $rc
