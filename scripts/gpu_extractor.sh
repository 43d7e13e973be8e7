#!/usr/bin/env bash
# The flagship extractor's GPU configuration (configs/extractor/gpu.yaml), trained
# for a fixed wall-clock share on a GPU machine and evaluated on the zoo like the default
# benchmark - into its own results store, since these figures come from another checkpoint.
#
# Usage: scripts/gpu_extractor.sh OUT_DIR [TRAIN_SECONDS]
#   1. a speed probe (PROBE_IMAGES, default 25,600 = 100 steps, no validation) measures
#      training images/s of the whole pipeline on this machine;
#   2. the image budget is set so that training takes about TRAIN_SECONDS (default 270),
#      capped at gpu.yaml's own budget (the paper's ~8 M images);
#   3. `modelprint run` evaluates synthetic_fingerprint with that checkpoint on every protocol.
# IMAGE_BUDGET skips the probe and trains on that many images; NUM_WORKERS overrides the
# data workers (gpu.yaml: 15, shared out between the GPUs). With several GPUs the extractor
# trains with DDP, one process per GPU (devices: N, strategy: ddp). MODELPRINT_GIT_SHA names
# the commit where the machine's copy of the tree has no git history of its own (the runs
# record it as their git sha).
# Writes OUT_DIR/gpu_results.sqlite, OUT_DIR/summary.json, OUT_DIR/probe.json and logs; with
# SPEED_SECONDS set, also the synthetic-data pipeline benchmark (OUT_DIR/speed.txt).
# Needs torch with CUDA and the suite's dependencies (a directory of wheels in DEPS_WHEELS is
# installed into a scratch target first, for a machine without the registry).
set -euo pipefail
out="$(mkdir -p "$1" && cd "$1" && pwd)"
train_seconds="${2:-270}"
source "$(dirname "${BASH_SOURCE[0]}")/gpu_env.sh"  # root, py, DEPS_WHEELS, offline
export MODELPRINT_RESULTS="$out/gpu_results.sqlite" MODELPRINT_CACHE="${MODELPRINT_CACHE:-/tmp/modelprint-cache}"
if [ -n "${MODELPRINT_GIT_SHA:-}" ]; then export GIT_DIR=/nonexistent; fi  # git fails -> the given sha
config=/tmp/modelprint-gpu.yaml
gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
# several GPUs: one DDP process each (Lightning's ddp), the data workers shared out between them
"$py" -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); w, g = sys.argv[3], max(1, int(sys.argv[4] or 1)); \
c['data']['num_workers'] = int(w) if w else max(1, c['data']['num_workers'] // g); \
c.update(devices=g, strategy='ddp') if g > 1 else None; yaml.safe_dump(c, open(sys.argv[2], 'w'))" \
  configs/extractor/gpu.yaml "$config" "${NUM_WORKERS:-}" "$gpus"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "GPUs: ${gpus:-0}"

probe=/tmp/modelprint-probe
rm -rf "$probe"
if [ -z "${IMAGE_BUDGET:-}" ]; then
# the probe measures training alone: the same config without validation
"$py" -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); c['val_batches'] = 0; \
yaml.safe_dump(c, open(sys.argv[2], 'w'))" "$config" /tmp/modelprint-probe.yaml
MODELPRINT_RESULTS=/tmp/modelprint-probe.sqlite "$py" -m benchmarks extractor train --training_config=/tmp/modelprint-probe.yaml \
  --image_budget="${PROBE_IMAGES:-25600}" --out="$probe" >"$out/probe.log" 2>&1 || { tail -40 "$out/probe.log"; exit 1; }
cp "$probe/summary.json" "$out/probe.json"
budget="$("$py" - "$out/probe.json" "$train_seconds" <<'EOF'
import json, sys
probe = json.load(open(sys.argv[1]))
full = 1474560  # gpu.yaml's image_budget
print(min(full, int(probe["images_per_s"] * float(sys.argv[2])) // 256 * 256))
EOF
)"
echo "probe: $(cut -c1-300 "$out/probe.json" | tr -d '\n ')"
else
budget="$IMAGE_BUDGET"
fi
echo "training budget: $budget images"

run_dir=/tmp/modelprint-gpu-extractor
"$py" -m benchmarks extractor train --training_config="$config" --image_budget="$budget" --out="$run_dir" \
  >"$out/train.log" 2>&1 || { tail -40 "$out/train.log"; exit 1; }
cp "$run_dir/summary.json" "$out/summary.json"
tail -3 "$out/train.log"
"$py" -m benchmarks run --config=configs/experiments/default.yaml --methods='[synthetic_fingerprint]' \
  --method_args="{synthetic_fingerprint: {checkpoint: $run_dir}}" >"$out/run.log" 2>&1 \
  || { tail -40 "$out/run.log"; exit 1; }
tail -3 "$out/run.log"
if [ -n "${SPEED_SECONDS:-}" ]; then  # issue 4's pipeline check on this machine's cores, if time allows
  timeout "$SPEED_SECONDS" "$py" -m benchmarks.speed.synthetic_data --num_models=256 --images_per_model=64 \
    --workers="${SPEED_WORKERS:-8}" --epochs=2 2>&1 | grep -v "Tip\|pytree\|available" | tee "$out/speed.txt" || true
fi
