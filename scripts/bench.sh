#!/usr/bin/env bash
# The README's benchmark command: install if needed, then run the default benchmark.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/ensure_venv.sh"
venv="${MODELPRINT_VENV:-$root/.venv}"
cd "$root"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE="${WANDB_MODE:-offline}"
"$venv/bin/modelprint" env
"$venv/bin/modelprint" check "$@"
