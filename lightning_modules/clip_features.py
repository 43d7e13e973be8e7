"""CLIP features for model attribution (Cioni, Tzelepis, Seidenari & Patras, "Are CLIP features
all you need for universal synthetic image origin attribution?", ECCV-W 2024).

A *frozen* CLIP ViT image encoder; an image's feature is the class token after chosen
transformer blocks - the last one, a list, or every block concatenated (``blocks: all``, the
paper's finding: intermediate blocks carry the low-level traces a generator leaves, which
the last block's semantic token has mostly discarded). On top, nothing CLIP-specific:

* ``head: logistic`` - the logistic-regression probe of the paper for closed and open set;
  its regularisation C is chosen on the known generators' validation images only; the
  open-set score is the maximum softmax probability;
* ``head: knn`` - the k-NN variant: cosine similarity to the known generators' training
  features, k chosen on validation accuracy; logits are the per-generator sums of the top-k
  similarities, the open-set score the best cosine similarity to any known training image;
* zero shot: cosine similarity of the features themselves (the embedding is the feature).

Weights: ``weights_path`` (a local ``.safetensors`` / ``.bin`` / ``.pth`` state dict, open_clip
or timm layout), else the Hugging Face cache entry of the timm model (``*.openai``), else - when
the Hub can be reached (``HF_HUB_OFFLINE`` unset) - downloaded into that cache once
(``modelprint weights fetch`` does it on demand), its digest recorded with every run. Where none
of these can be had, the method is left out of a run of every method with one line saying how
to get the weights, and is an error when named. ``random_init: true`` is the random-init
control: the architecture with random weights, and every leaderboard row says so (``weights``
column) - those figures measure the architecture, not CLIP.

Scaled for CPU: ViT-B/32 (``vit_base_patch32_clip_quickgelu_224.openai``, the OpenAI
weights' native QuickGELU variant) instead of the paper's ViT-L/14; the input size stays
CLIP's 224 (the zoo's 32 x 32 images are up-sampled bicubically, CLIP's own interpolation).
``model: vit_large_patch14_clip_quickgelu_224.openai`` gives the paper's encoder.

The weights rules, the encoder and the heads are shared with ``dinov2_features``
(``lightning_modules/frozen_vit.py``); only CLIP's backbone, blocks and citation are here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lightning_modules import register_method
from lightning_modules.frozen_vit import FrozenViTFeatures, cached_hub_weights

__all__ = ["ClipFeaturesKNNMethod", "ClipFeaturesMethod", "cached_hub_weights"]


@register_method("clip_features")
class ClipFeaturesMethod(FrozenViTFeatures):
    """Frozen CLIP ViT class tokens of chosen blocks + logistic probe or cosine k-NN (Cioni et al. 2024).

    Args:
        model: a timm ViT name; the tag (``.openai``) names the pretrained weights to look for.
        blocks: ``all`` (every block's class token, concatenated) or a list of block indices.
        image_size: the encoder's input size (CLIP's 224).
        head: ``logistic`` (probe, max-softmax open-set score) or ``knn`` (cosine k-NN).
        weights_path: a local state dict; default: the Hugging Face cache, else random weights.
        model_args: extra ``timm.create_model`` arguments (tests build a tiny ViT this way).
        knn_k: the k-NN head's candidate k values (chosen on validation accuracy).
        init_seed: seeds the random weights of the random-init control.
        random_init: the random-init control - the architecture with random weights, labelled
            so on every row; without it, missing weights are fetched from the Hub when it can be
            reached and otherwise are an error naming how to get them.
    """

    method_name: ClassVar[str] = "clip_features"
    default_model: ClassVar[str] = "vit_base_patch32_clip_quickgelu_224.openai"
    key_class: ClassVar[str] = "ClipFeatures"
    random_note: ClassVar[str] = "RANDOM INIT control (random_init: true; not CLIP's figures)"

    def __init__(
        self,
        model: str = "vit_base_patch32_clip_quickgelu_224.openai",
        blocks: str | list[int] = "all",
        image_size: int = 224,
        head: str = "logistic",
        weights_path: str | None = None,
        model_args: dict[str, Any] | None = None,
        knn_k: list[int] | None = None,
        init_seed: int = 0,
        random_init: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # this signature's arguments: the cache key's backbone
        self.build(model, blocks, image_size, head, weights_path, model_args, init_seed, random_init)


@register_method("clip_features_knn")
class ClipFeaturesKNNMethod(ClipFeaturesMethod):
    """CLIP features with the cosine k-NN head (Cioni et al. 2024's k-NN variant); same features."""

    method_name: ClassVar[str] = "clip_features_knn"  # its own name in its lines and errors

    def __init__(self, head: str = "knn", **kwargs: Any) -> None:
        super().__init__(head=head, **kwargs)
