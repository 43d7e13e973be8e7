#!/usr/bin/env bash
# The README's benchmark command: install if needed, check the install, run the default
# benchmark (every registered method x protocol on the embedded zoo; cells already in the
# results store are skipped) and render the leaderboard from the store.
# Extra arguments go to `modelprint run`, e.g. scripts/bench.sh --seeds=[0,1,2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/ensure_venv.sh"
venv="${MODELPRINT_VENV:-$root/.venv}"
cd "$root"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE="${WANDB_MODE:-offline}"
export MODELPRINT_RESULTS="${MODELPRINT_RESULTS:-$root/published/results.sqlite}"
"$venv/bin/modelprint" env
"$venv/bin/modelprint" check --wandb=false
"$venv/bin/modelprint" run --config=configs/experiments/default.yaml "$@"
"$venv/bin/modelprint" board --out=published/board --readme=README.md
