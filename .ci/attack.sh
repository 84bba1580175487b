#!/usr/bin/env bash
# Fault and attack suite (issue 16): decision-log privacy and the salt race,
# spreadsheet-safe CSV, markup escaping, input bounds (huge numbers, deep
# nesting, wide files, slow RDF parses, memory-hungry SPARQL), batches that
# cannot sink (oversized claims, a batch killed mid-write), and a fuzz run of
# every reader with hostile strings (CPTKG_FUZZ_EXAMPLES per reader, default
# 2,000). The browser walk with hostile values is in .ci/browser.sh.
# Idempotent; about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -n "${VIRTUAL_ENV:-}" ] || { [ -x .venv/bin/python ] || python3 -m venv .venv; PY=.venv/bin/python; }
"$PY" -m pip install -q -e '.[test]'
export CPTKG_FUZZ_EXAMPLES="${CPTKG_FUZZ_EXAMPLES:-2000}"
"$PY" -m pytest -q -s -p no:cacheprovider -m "slow or not slow" \
  tests/test_attack_log.py tests/test_attack_spreadsheet.py tests/test_attack_markup.py \
  tests/test_attack_inputs.py tests/test_attack_batch.py tests/test_attack_fuzz_readers.py
