#!/usr/bin/env bash
# Creates (or refreshes) the Python virtualenv holding the outside checkers the tests run:
# scim2-tester (SCIM conformance) and schemathesis (admin API against its OpenAPI document).
# Prints the venv's directory. Idempotent: reinstalls only when the requirements file changed.
#
#   bash scripts/pytools.sh            # venv at $PYTOOLS_VENV or ~/.cache/audience-sync/pytools
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${PYTOOLS_VENV:-${HOME}/.cache/audience-sync/pytools}"
req="scripts/pytools-requirements.txt"
stamp="${venv}/.requirements"
python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
  echo "scripts/pytools.sh: python3 is not installed" >&2
  exit 1
fi
if [[ ! -x "${venv}/bin/python" ]]; then
  "$python" -m venv "$venv" >&2
fi
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  "${venv}/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
printf '%s\n' "$venv"
