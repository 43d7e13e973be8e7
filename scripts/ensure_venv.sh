#!/usr/bin/env bash
# Create (first call) or reuse (later calls, in seconds) the project's virtual environment.
#
# - Python 3.11 venv in $MODELPRINT_VENV (default: .venv in the repository root).
# - Every pip call is constrained by scripts/constraints.txt so that torch stays the CPU wheel.
# - Writes a .pth file that installs modelprint's torchvision hook: on the first
#   `import torchvision` it defines torchvision's op schemas only if its C extension
#   cannot load (the CUDA-only torchvision wheel against CPU torch); elsewhere it does nothing.
# - Reinstalls only when pyproject.toml, the constraints or this script changed, and never
#   into an environment that another checkout installed (one line, exit 2); an environment
#   from before this check (no owner recorded) is taken by the next checkout to install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
venv="${MODELPRINT_VENV:-$root/.venv}"
stamp_file="$venv/.modelprint-install-stamp"
stamp="$(cat "$root/pyproject.toml" "$root/scripts/constraints.txt" "$root/scripts/ensure_venv.sh" | sha256sum | cut -c1-16)"

# an environment another checkout installed into: its editable install runs the other
# checkout's code, and reinstalling would point it here, under that checkout's feet
owner_file="$venv/.modelprint-root"
if [ -f "$owner_file" ] && [ "$(cat "$owner_file")" != "$root" ]; then
  echo "modelprint: $venv belongs to the checkout at $(cat "$owner_file"), not $root; set MODELPRINT_VENV to this checkout's own environment (or remove $owner_file to take it over)" >&2
  exit 2
fi

if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -x "$venv/bin/modelprint" ]; then
  exit 0
fi

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "modelprint needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

echo "modelprint: installing into $venv (first call only; later calls reuse it)" >&2
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install -c "$root/scripts/constraints.txt" torch==2.13.0
"${pip[@]}" install -c "$root/scripts/constraints.txt" -e "$root[dev]"

site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "import benchmarks.torchvision_compat as _m; _m.install_import_hook()" \
  > "$site_packages/modelprint_torchvision_compat.pth"
"$venv/bin/python" -c "import timm, benchmarks.torchvision_compat as c; print('torchvision fix:', c.fix_state())" >&2
echo "$stamp" > "$stamp_file"
echo "$root" > "$owner_file"
