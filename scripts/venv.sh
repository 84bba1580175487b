# Sourced by scripts/*.sh and .ci/*.sh: make .venv and install the project with
# the extras asked for, only when what pip would install has changed.
#
#   . scripts/venv.sh; ensure_venv test,spark
#
# One stamp per extra (.venv/.cptkg-installed-<extra>, and -base for the
# project itself) holds a SHA-256 of pyproject.toml, setup.py and the interpreter's
# version. The install is editable, so a change to the code needs no
# reinstall; a change to the dependencies, entry points or package data (all
# in pyproject.toml and setup.py) does. CPTKG_REINSTALL=1 forces one.
ensure_venv() {
  local extras="${1:-}" key missing="" e
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  key="$( { cat pyproject.toml setup.py; .venv/bin/python -VV; } | sha256sum | cut -d' ' -f1)"
  for e in base ${extras//,/ }; do
    if [ "${CPTKG_REINSTALL:-0}" = 1 ] || [ "$(cat ".venv/.cptkg-installed-$e" 2>/dev/null)" != "$key" ]; then
      missing="$missing $e"
    fi
  done
  [ -z "$missing" ] && return 0
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  if [ -n "$extras" ]; then .venv/bin/python -m pip install -q -e ".[$extras]"
  else .venv/bin/python -m pip install -q -e .; fi
  for e in base ${extras//,/ }; do echo "$key" > ".venv/.cptkg-installed-$e"; done
}
