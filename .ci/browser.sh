#!/usr/bin/env bash
# Real-browser test of the explorer (tests/test_browser.py): Playwright drives
# Debian's Chromium; no browser is downloaded (never `playwright install`).
# Installs Chromium with apt when it is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q -e '.[test,browser]'
.venv/bin/python -m pytest -q -m browser tests/test_browser.py tests/test_browser_hostile.py
