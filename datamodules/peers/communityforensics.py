"""Community Forensics (Park and Owens, CVPR 2025, arXiv 2411.04125): thousands of
generators from Hugging Face and commercial services, as Hugging Face data sets - a preset of
``hf``.

Facts from its public loader (JeongsooP/Community-Forensics, ``dataloader.py``,
``dataset_huggingface``): columns ``image_data`` (the encoded image), ``label`` (0 real, 1
fake) and ``model_name`` (the generator, or the real images' source); the training data is
``OwensLab/CommunityForensics`` split ``Systematic+Manual``, the evaluation data a separate set
whose split is ``PublicEval`` (``--hf_split_test``).

Chosen here: the two sets are one ``path`` when saved together (``save_to_disk`` of a
``DatasetDict`` with both splits) - name others with ``train_split`` / ``test_split`` /
``data_files``; rows labelled 0 are the real class ``real`` (a known class unless
``include_real: false``), whatever source their ``model_name`` names. The paper's held-out
evaluation generators are those of the evaluation split absent from training: with
``unseen_from_test: true`` (the default) they are ``unseen_architecture``.

    modelprint run --dataset=communityforensics --dataset_args='{path: /data/commfor}'
"""

from __future__ import annotations

from typing import Any, ClassVar

from datamodules import register_dataset
from datamodules.peers.hf_preset import HuggingFacePreset


@register_dataset("communityforensics")
class CommunityForensicsDataModule(HuggingFacePreset):
    """Community Forensics' Hugging Face data; see the module docstring.

    Args:
        path: the saved data set (or ``load_dataset``'s path).
        unseen_from_test: the generators only the evaluation split holds are unseen.
        (and the ``hf`` arguments, defaulting to the benchmark's splits and columns:
        :attr:`defaults`)
    """

    defaults: ClassVar[dict[str, Any]] = {
        "train_split": "Systematic+Manual",
        "test_split": "PublicEval",
        "image_column": "image_data",
        "generator_column": "model_name",
        "label_column": "label",
        "real_label": 0,
    }

    def __init__(self, path: str, unseen_from_test: bool = True, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.hold_out = unseen_from_test and not any(self.groups.values())

    def unseen_group(self, split: str) -> list[str]:
        """With ``unseen_from_test``, the evaluation split's generators that training lacks are
        ``unseen_architecture`` (found when a split first asks: reading belongs to ``setup``)."""
        if self.hold_out:
            self.hold_out = False
            trained = {row[1] for row in self._load(self.train_split)}
            held_out = {row[1] for row in self._load(self.test_split)} - trained - set(self.real)
            self.groups["unseen_architecture"] = sorted(held_out)
        return super().unseen_group(split)
