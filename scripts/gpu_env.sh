# Sourced by the GPU-machine scripts (gpu_extractor.sh, gpu_zoo.sh): go to the repository root,
# pick the Python (PYTHON, default python3), install the wheels in DEPS_WHEELS into a scratch
# target where the machine has no registry, and run offline with W&B off.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
if [ -n "${DEPS_WHEELS:-}" ]; then
  "$py" -m pip install -q --no-deps --target=/tmp/modelprint-deps "$DEPS_WHEELS"/*.whl
  export PYTHONPATH="/tmp/modelprint-deps:${PYTHONPATH:-}"
fi
export PYTHONPATH="$root:${PYTHONPATH:-}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 MODELPRINT_WANDB=off
export PYTHONUNBUFFERED=1
