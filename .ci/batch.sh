#!/usr/bin/env bash
# Batch judging on compiled SQL: the SQL compiler and batch tests, then the
# differential test (cptkg check's pyDatalog path vs DuckDB vs Spark local
# mode on 2,000 generated claim lines). Installs what it needs: the spark
# extra (pyspark) and, when missing, a Java 17 runtime. About 5-10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else
  python3 -m venv .venv && PY=.venv/bin/python
fi
"$PY" -m pip install -q -e '.[test,spark]'
if ! command -v java >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
java -version 2>&1 | head -1
# Spark tests must run here: a missing piece is a failure, not a skip.
export CPTKG_REQUIRE_SPARK=1
"$PY" -m pytest -q -p no:cacheprovider \
  -m slow tests/test_sql_compiler.py tests/test_batch.py tests/test_sql_differential.py \
  tests/test_attack_spreadsheet.py  # the fast ones run in the fast suite
