#!/usr/bin/env bash
# Engine conformance, fuzzing and the safety net (issue 6), by hand:
#   - datalog-conformance 0.1.0: basic, negation, recursion, errors groups
#     through our parser, build_program and each engine, pyDatalog and
#     clingo (per-group figures per engine printed at the end of that run)
#   - hypothesis fuzzing of `cptkg check`, >= 10,000 generated claims (four parts)
#   - no code from user text; SPARQL guard; RDF parsing fetches nothing
#   - decision log
# `scripts/test.sh --full` (CI) runs these tests with everything else; this
# script runs this area alone. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/provision.sh
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider -m "slow or not slow" tests/conformance/test_conformance.py \
  tests/test_fuzz_check.py tests/test_no_code_execution.py tests/test_decision_log.py "$@"
