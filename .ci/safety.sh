#!/usr/bin/env bash
# Engine conformance, fuzzing and the safety net (issue 6).
#   - datalog-conformance 0.1.0: basic, negation, recursion, errors groups
#     through our parser, build_program and each engine, pyDatalog and
#     clingo (per-group figures per engine printed at the end of that run)
#   - hypothesis fuzzing of `cptkg check`, >= 10,000 generated claims
#   - no code from user text; SPARQL guard; RDF parsing fetches nothing
#   - decision log
# Idempotent; installs what it needs into the active Python. ~10-15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -n "${VIRTUAL_ENV:-}" ] || { [ -x .venv/bin/python ] || python3 -m venv .venv; PY=.venv/bin/python; }
"$PY" -m pip install -q -e '.[test]' "datalog-conformance==0.1.0"
echo "== datalog-conformance (basic, negation, recursion, errors) on pyDatalog and clingo"
"$PY" -m pytest -q -p no:cacheprovider tests/conformance/test_conformance.py
echo "== fuzzing, no-code-execution, decision log"
"$PY" -m pytest -q -s -p no:cacheprovider -m "slow or not slow" \
  tests/test_fuzz_check.py tests/test_no_code_execution.py tests/test_decision_log.py
