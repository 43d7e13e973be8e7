"""The delivery chain: what happens to a generated image before anyone attributes it.

Images met in practice are re-encoded, resized, filtered and cropped on their way from the
generator to the viewer. Yang et al. (arXiv 2307.15977) never post-process their synthetic
images, and a fingerprint learned on pristine outputs is erased by the first JPEG pass (the
robustness track shows it). Here a synthetic model may include its delivery: each generated
image passes through a random chain of the robustness track's own operations
(:mod:`datamodules.perturbations`: one implementation for training and for testing) in
random order, each applied with its probability at a strength drawn uniformly from its
range, and the synthetic model's identity stays the label - so the extractor must learn a
fingerprint the chain does not erase.

This follows the augmentation practice of the detection literature (Wang et al., CVPR 2020,
"CNN-generated images are surprisingly easy to spot... for now": blur and JPEG each with
probability 0.5), widened to the operations the attribution benchmarks evaluate (GenImage,
ImageAttributionBench, AI-GenBench: JPEG, resizing, blur, noise, crops). Ranges are sized for
32 x 32 images; they are configuration (``data.delivery`` of an extractor config).

Randomness: each image's chain is drawn from ``derive_seed("delivery", model id, image index,
round)``, so a delivered image depends on what it is and how often it was drawn - not on the
batch, the worker or the process; a resumed run sees the very same images.

The chain itself is defined in :mod:`datamodules.perturbations`, beside the kinds it chains, so
that the robustness track can also apply it as one more kind (``delivery:P``); this module is
where the synthetic data takes it from.
"""

from datamodules.perturbations import DEFAULT_STEPS, DeliveryChain, DeliveryStep

__all__ = ["DEFAULT_STEPS", "DeliveryChain", "DeliveryStep"]
