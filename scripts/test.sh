#!/usr/bin/env bash
# The README's test command: install if needed, then run pytest (extra args go to pytest,
# e.g. `scripts/test.sh -m slow` for the long tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/ensure_venv.sh"
venv="${MODELPRINT_VENV:-$root/.venv}"
cd "$root"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1  # W&B logs only when a test asks for it
"$venv/bin/ruff" check .
exec "$venv/bin/python" -m pytest "$@"
