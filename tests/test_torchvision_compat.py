"""The torchvision fix: applied only where torchvision's C ops fail to load, and then timm works."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_timm_imports_and_the_fix_matches_whether_the_extension_loads() -> None:
    out = python(
        "import torch, timm, torchvision.extension as e, benchmarks.torchvision_compat as c\n"
        "model = timm.create_model('resnet18', num_classes=2).eval()\n"
        "print(c.fix_state(), e._has_ops(), model(torch.randn(1, 3, 32, 32)).shape, sep='|')"
    )
    state, has_ops, shape = out.split("|")
    # Either the extension loaded (CUDA machine) and nothing was defined, or it did not and we did.
    assert (state, has_ops) in {("active", "False"), ("not needed", "True")}, out
    assert shape == "torch.Size([1, 2])"


def test_nothing_is_defined_where_the_extension_loads() -> None:
    out = python(
        "import torch\n"
        "torch.ops.load_library = lambda path: None  # stand in for a loadable CUDA-machine extension\n"
        "import benchmarks.torchvision_compat as c\n"
        "print(c.ensure_torchvision_ops(), hasattr(torch.ops.torchvision, 'nms'))"
    )
    assert out == "not needed False"


def test_the_check_runs_once_and_is_idempotent() -> None:
    out = python(
        "import benchmarks.torchvision_compat as c\n"
        "c.install_import_hook(); a = c.ensure_torchvision_ops(); b = c.ensure_torchvision_ops()\n"
        "import torchvision; print(a == b, c.fix_state())"
    )
    assert out.startswith("True ")
