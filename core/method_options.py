"""Method arguments that change only what is done with a method's features - how zero shot
compares them - never the features, the weights or any fit.

Declared here, below both floors that need it: a method leaves them out of its feature-cache
and training keys (``AttributionMethod.post_feature_hparams``), and the robustness track does
not count them as a different fit when it pairs a perturbed run with its clean one (a closed-set
run is the same fit whichever zero-shot embedding the method's YAML chooses).
"""

from __future__ import annotations

#: the arguments, by name
POST_FEATURE_ARGS: tuple[str, ...] = ("zero_shot_embedding", "whitening_shrinkage")
