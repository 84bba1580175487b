#!/usr/bin/env bash
# Set up everything on a fresh machine (Python 3.11 + pip) and start the
# explorer on http://127.0.0.1:8501 (no asset is loaded from the internet).
# The install runs only when pyproject.toml changed since the last one
# (scripts/venv.sh keeps a stamp), so a second start does not reinstall.
# CPTKG_PYTHON=/path/to/python: start it with that interpreter, which already has the
# project's requirements, and install nothing (the browser tests pass their own); Streamlit
# puts app.py's folder first on sys.path, so this checkout's cptkg is the one imported.
set -euo pipefail
cd "$(dirname "$0")/.."
# `streamlit run app.py`, with the knowledge base loaded beside the starting server
# (cptkg/faces/explorer/serve.py), so the first visitor does not wait for it.
ARGS=(--server.address 127.0.0.1 --server.port "${PORT:-8501}"
      --server.headless true --browser.gatherUsageStats false "$@")
if [ -n "${CPTKG_PYTHON:-}" ]; then exec "$CPTKG_PYTHON" -m cptkg.faces.explorer.serve "${ARGS[@]}"; fi
. scripts/venv.sh
ensure_venv
exec .venv/bin/python -m cptkg.faces.explorer.serve "${ARGS[@]}"
