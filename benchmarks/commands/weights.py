"""``modelprint weights fetch``: pretrained weights into the local cache, before a run needs them."""

from __future__ import annotations

from benchmarks.cli import command


@command("weights fetch")
def weights_fetch(methods: list[str] | None = None) -> int:
    """Download the pretrained weights of every method that uses some (CLIP's, from the Hugging
    Face Hub, into its cache) and print each file with its digest; runs then find them offline.

    Args:
        methods: only these methods (default: every registered method).
    """
    from core.hashing import file_digests
    from lightning_modules import METHODS
    from lightning_modules.method_config import method_args

    names = methods if methods is not None else METHODS.names()
    for name in names:
        path = METHODS.entry(name).factory.fetch_weights(method_args(name))
        if path is not None:
            # the short BLAKE2b digest is what each run's provenance records; SHA-256 is the
            # Hub's own (an LFS file's page shows it), to compare against the source
            short, full = file_digests(path)
            print(f"{name}: {path} (digest {short}, sha256 {full})")
    return 0
