"""DINOv2 features for model attribution: a frozen self-supervised ViT as the backbone.

Why it is here: AI-GenBench's board (Pellegrini et al. 2025) is led by a DINOv2 ViT-L/14
backbone, ahead of CLIP's; frozen foundation-model features with a light head are the strong
simple baseline of CLIP-style detection (Cozzolino et al., CVPR-W 2024), and the question a
reader asks of any attribution method is whether such features already do the job.

What it computes: timm's DINOv2 ViT (``vit_small_patch14_dinov2.lvd142m`` by default;
``model: vit_large_patch14_dinov2.lvd142m`` is AI-GenBench's backbone), *frozen*; an image's
feature is the class token after chosen blocks (default the last four, concatenated, as in
DINOv2's own linear evaluation), with ``patch_mean: true`` adding each block's mean patch
token. The zoo's 32 x 32 images are up-sampled bicubically to 224 (16 x 16 patches of 14 px;
the position embedding, made at 518, is resampled on load). On top, the same heads as
``clip_features``: the logistic probe (C on known-val, max-softmax open-set score) or cosine
k-NN (``head: knn``); zero shot by cosine similarity of the features.

Differences from AI-GenBench, said plainly: there the backbone is fine-tuned for detection on
its generators; here it stays frozen (only the probe is fitted), scaled for CPU (ViT-S/14).

Weights follow ``clip_features``' rules exactly (``lightning_modules/frozen_vit.py``):
``weights_path``, the Hugging Face cache, the Hub when it can be reached (``modelprint weights
fetch``); none of them: left out of a run of every method with one line, an error when named.
``random_init: true`` is the labelled random-weights control, never DINOv2's figures.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lightning_modules import register_method
from lightning_modules.frozen_vit import FrozenViTFeatures

#: DINOv2's linear evaluation reads the class tokens of the last four blocks
LAST_FOUR = [-4, -3, -2, -1]


@register_method("dinov2_features")
class Dinov2FeaturesMethod(FrozenViTFeatures):
    """Frozen DINOv2 ViT class (+ mean patch) tokens of chosen blocks + logistic probe or cosine k-NN.

    Args:
        model: a timm DINOv2 ViT name; the tag (``.lvd142m``) names the pretrained weights.
        blocks: ``all`` or a list of block indices (None: the last four).
        image_size: the encoder's input size (224: 16 x 16 patches of 14 px).
        head: ``logistic`` (probe, max-softmax open-set score) or ``knn`` (cosine k-NN).
        weights_path: a local state dict (timm layout); default: the Hugging Face cache, else
            the Hub where it can be reached.
        model_args: extra ``timm.create_model`` arguments (tests build a tiny ViT this way).
        knn_k: the k-NN head's candidate k values (chosen on validation accuracy).
        init_seed: seeds the random weights of the random-init control.
        random_init: the random-init control - the architecture with random weights, labelled
            so on every row.
        patch_mean: add each chosen block's mean patch token to its class token.
    """

    method_name: ClassVar[str] = "dinov2_features"
    default_model: ClassVar[str] = "vit_small_patch14_dinov2.lvd142m"
    key_class: ClassVar[str] = "Dinov2Features"
    random_note: ClassVar[str] = "RANDOM INIT control (random_init: true; not DINOv2's figures)"

    def __init__(
        self,
        model: str = "vit_small_patch14_dinov2.lvd142m",
        blocks: str | list[int] | None = None,
        image_size: int = 224,
        head: str = "logistic",
        weights_path: str | None = None,
        model_args: dict[str, Any] | None = None,
        knn_k: list[int] | None = None,
        init_seed: int = 0,
        random_init: bool = False,
        patch_mean: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # this signature's arguments: the cache key's backbone
        # DINOv2's factory builds at 518 px; the input size is this method's, so it is passed on
        args = {"img_size": image_size, **(model_args or {})}
        chosen = LAST_FOUR if blocks is None else blocks
        self.build(model, chosen, image_size, head, weights_path, args, init_seed, random_init, patch_mean)
