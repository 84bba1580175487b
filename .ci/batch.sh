#!/usr/bin/env bash
# Batch judging on compiled SQL, by hand: the SQL compiler and batch tests, then the
# differential test (cptkg check's pyDatalog path vs DuckDB vs Spark local
# mode on 2,000 generated claim lines). Provisions a Java 17 runtime and the
# spark extra (.ci/provision.sh). `scripts/test.sh --full` (CI) runs these
# tests with everything else; this script runs this area alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/provision.sh
# Spark tests must run here: a missing piece is a failure, not a skip.
export CPTKG_REQUIRE_SPARK=1
.venv/bin/python -m pytest -q -n 2 --dist loadgroup -p no:cacheprovider -m "slow or not slow" \
  tests/test_sql_compiler.py tests/test_batch.py tests/test_batch_validation.py \
  tests/test_sql_differential.py tests/test_attack_spreadsheet.py "$@"
