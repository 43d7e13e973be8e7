#!/usr/bin/env bash
# Train the embedded zoo's generators on a GPU machine (training and sampling there), and
# pack the finished per-generator results for `modelprint zoo build --work=...` to assemble
# where the artifact is kept (assembly builds the `real` images from that machine's packages).
#
# Usage: scripts/gpu_zoo.sh OUT_DIR [WORKERS] [SECONDS]
#   WORKERS  generators trained at once (default 1: on an H100, 8 processes sharing the GPU
#            ran each 4,000-iteration GAN in 260 s, far slower than one at a time);
#   SECONDS  stop after this long (default 420): every generator that finished is kept, and
#            a later call (or `modelprint zoo build` anywhere) resumes the rest.
# ONLY: the generator ids to train, comma-separated, in order (default: the whole recipe).
# ACCELERATOR: gpu (default), or cpu to try the script here.
# TRAINING_SETS: an .npz written by datamodules.zoo.training_sets.save_training_sets on the
# reference machine (its package sample images), so both machines train on the same pixels.
# DEPS_WHEELS: a directory of wheels installed into a scratch target first (no registry there).
# Writes OUT_DIR/zoo-work.tgz.part-* (the work directory), OUT_DIR/build.log.
set -uo pipefail
out="$(mkdir -p "$1" && cd "$1" && pwd)"
workers="${2:-1}"
seconds="${3:-420}"
source "$(dirname "${BASH_SOURCE[0]}")/gpu_env.sh"  # root, py, DEPS_WHEELS, offline
work=/tmp/zoo-work
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
# ONLY: the generator ids to train, in order (default: the whole recipe)
ids="${ONLY:-$("$py" -c "from datamodules.zoo.recipe import ZooRecipe; \
print(','.join(s.generator_id for s in ZooRecipe.load().generators()))")}"
sets=()
if [ -n "${TRAINING_SETS:-}" ]; then sets=(--training_sets="$TRAINING_SETS"); fi
start=$(date +%s)
# --only names every generator: train them all, leave assembly to the artifact's machine.
# The build runs in its own process group (setsid: its pid is the group id), and at the
# deadline the whole group gets SIGKILL: the pool's workers outlive a killed parent, and
# Lightning catches SIGTERM; nothing else on the machine is touched.
setsid "$py" -m benchmarks zoo build --accelerator="${ACCELERATOR:-gpu}" --workers="$workers" \
  --threads=2 --work="$work" --only="[$ids]" "${sets[@]}" >"$out/build.log" 2>&1 &
build=$!
( sleep "$seconds"; kill -KILL -- -"$build" 2>/dev/null ) &
timer=$!
wait "$build"
echo "build exit $? after $(( $(date +%s) - start )) s; finished: $(ls "$work"/*/record.json 2>/dev/null | wc -l)"
kill "$timer" 2>/dev/null
kill -KILL -- -"$build" 2>/dev/null || true
sleep 2
rm -rf "$work"/*.tmp
tar czf - -C "$work" . | split -b 15M - "$out/zoo-work.tgz.part-"
ls -la "$out"
