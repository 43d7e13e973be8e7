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
# The Hub is left on (unless you set HF_HUB_OFFLINE=1): CLIP's weights come from it the first
# time; where it cannot be reached, CLIP is left out with a line saying how to get them.
# W&B logs only when asked (--wandb=true, WANDB_PROJECT or WANDB_MODE): see docs/results-store.md
export MODELPRINT_RESULTS="${MODELPRINT_RESULTS:-$root/published/results.sqlite}"
"$venv/bin/modelprint" env
"$venv/bin/modelprint" check --wandb=false
"$venv/bin/modelprint" run --config=configs/experiments/default.yaml "$@"
"$venv/bin/modelprint" board --out=published/board --readme=README.md
