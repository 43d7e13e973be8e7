"""What the peers' Hugging Face layouts share: their split and column names as the ``hf``
loader's defaults, and their real rows (marked by a label column) as the real class."""

from __future__ import annotations

from typing import Any, ClassVar

from datamodules.public.hf import REAL_GENERATOR, HuggingFaceDataModule


class HuggingFacePreset(HuggingFaceDataModule):
    """The ``hf`` loader with a peer's names as defaults (:attr:`defaults`); anything given in
    ``dataset_args`` wins. Rows the label column marks real are the generator ``real``, a known
    class unless ``include_real: false`` - the peers attribute "not generated" too."""

    defaults: ClassVar[dict[str, Any]]

    def __init__(self, path: str, **kwargs: Any) -> None:
        options = {**self.defaults, **kwargs}
        if options.get("label_column") and options.get("real") is None:
            options["real"] = [REAL_GENERATOR]
        options.setdefault("include_real", bool(options.get("real")))
        super().__init__(path, **options)
