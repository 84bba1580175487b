#!/usr/bin/env bash
# What the slow and browser suites need beyond the fast suite's install, on a
# fresh machine (run as root): a Java 17 runtime (Spark, HermiT), Debian's
# Chromium (never `playwright install`), and the extras test, spark, browser
# and conformance in .venv. Idempotent: each piece is installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
java -version 2>&1 | head -1
. scripts/venv.sh
ensure_venv test,spark,browser,conformance,docs
