"""AI-GenBench (Pellegrini et al., IJCNN 2025 Verimedia workshop, arXiv 2504.20865): 36
generators in the order they appeared, as a Hugging Face data set - a preset of ``hf``.

Facts from its public code (the dataset builders' ``DEEPFAKE_DATASET_FEATURES`` and
``finalize_dataset``; ``ai_gen_bench_metadata/benchmark_generators.py``): splits ``train`` and
``validation`` (the evaluation set); columns ``image``, ``generator`` (empty for real images)
and ``label`` (a ``ClassLabel`` of ``real`` / ``fake``); the generators with their release
dates, :data:`TIMELINE`. Its protocol trains on sliding windows of four generators in that
order and evaluates on the generators to come.

Chosen here: rows labelled ``real`` are the real class (``real: [real]``, a known class unless
``include_real: false``). ``window: k`` takes the benchmark's protocol for attribution: known =
the generators of the first k windows (the first 4k of :data:`TIMELINE` the data holds),
``unseen_architecture`` = the next window (its "immediate future"), ``unseen_dataset`` = every
later one; without ``window`` every generator is known. Its evaluation perturbations are
``--perturbations=[aigenbench]`` (``docs/robustness.md``).

    modelprint run --dataset=aigenbench --dataset_args='{path: /data/ai-genbench, window: 2}'
"""

from __future__ import annotations

from typing import Any, ClassVar

from core.errors import ConfigError, DataError
from datamodules import register_dataset
from datamodules.peers.hf_preset import HuggingFacePreset

#: generator -> release date, the benchmark's order (``BENCHMARK_GENERATORS``)
TIMELINE = {
    "CycleGAN": "2017-03-30",
    "Cascaded Refinement Networks": "2017-07-28",
    "ProGAN": "2017-10-27",
    "StarGAN": "2017-11-24",
    "SN-PatchGAN": "2018-06-10",
    "BigGAN": "2018-09-28",
    "IMLE": "2018-11-29",
    "StyleGAN1": "2018-12-12",
    "GauGAN": "2019-03-18",
    "StyleGAN2": "2019-12-03",
    "DDPM": "2020-06-19",
    "CIPS": "2020-11-27",
    "VQGAN": "2020-12-17",
    "GANformer": "2021-03-01",
    "ADM": "2021-05-11",
    "StyleGAN3": "2021-06-23",
    "LaMa": "2021-09-15",
    "FaceSynthetics": "2021-09-30",
    "ProjectedGAN": "2021-11-01",
    "Palette": "2021-11-10",
    "VQ-Diffusion": "2021-11-29",
    "Denoising Diffusion GAN": "2021-12-16",
    "Glide": "2021-12-20",
    "Latent Diffusion": "2021-12-21",
    "Midjourney": "2022-02-01",
    "MAT": "2022-03-29",
    "Diffusion GAN (ProjectedGAN)": "2022-06-05",
    "Diffusion GAN (StyleGAN2)": "2022-06-06",
    "Stable Diffusion 1.4": "2022-08-22",
    "Stable Diffusion 1.5": "2022-10-20",
    "Stable Diffusion 2.1": "2022-12-07",
    "DeepFloyd IF": "2023-04-26",
    "Stable Diffusion XL 1.0": "2023-07-26",
    "DALL-E 3": "2023-09-20",
    "FLUX 1 Dev": "2024-08-01",
    "FLUX 1 Schnell": "2024-08-02",
}
#: generators per sliding window
WINDOW = 4


@register_dataset("aigenbench")
class AIGenBenchDataModule(HuggingFacePreset):
    """AI-GenBench's Hugging Face data set; see the module docstring.

    Args:
        path: the data set saved with ``save_to_disk`` (or ``load_dataset``'s path).
        window: the sliding window whose generators are known (1 = the first four).
        (and the ``hf`` arguments, defaulting to the benchmark's splits and columns:
        :attr:`defaults`)
    """

    defaults: ClassVar[dict[str, Any]] = {
        "train_split": "train",
        "test_split": "validation",
        "image_column": "image",
        "generator_column": "generator",
        "label_column": "label",
        "real_label": "real",
    }

    def __init__(self, path: str, window: int | None = None, **kwargs: Any) -> None:
        if window is not None and (window < 1 or any(kwargs.get(k) for k in self.GROUPED)):
            raise ConfigError(
                f"window {window}: a window from 1 sets the known and unseen generators itself; "
                f"give window or {', '.join(self.GROUPED)}, not both"
            )
        super().__init__(path, **kwargs)
        self.window, self.placed = window, window is None

    GROUPED = ("known", "unseen_seed", "unseen_architecture", "unseen_dataset")

    def known_generators(self) -> tuple[str, ...]:
        self.place_window()
        return super().known_generators()

    def unseen_group(self, split: str) -> list[str]:
        self.place_window()
        return super().unseen_group(split)

    def place_window(self) -> None:
        """Known, next-window and later generators by the timeline, of those the data holds
        (once, when a split first asks: reading the data belongs to ``setup``)."""
        if self.placed:
            return
        self.placed, window = True, self.window
        assert window is not None
        present = {row[1] for part in (self.train_split, self.test_split) for row in self._load(part)}
        ordered = [g for g in TIMELINE if g in present]
        if len(ordered) <= WINDOW * window:
            raise DataError(
                f"{self.path}: window {window} leaves no generator to come: the data holds "
                f"{len(ordered)} of AI-GenBench's generators ({WINDOW} per window)"
            )
        self.known = ordered[: WINDOW * window]
        self.groups["unseen_architecture"] = ordered[WINDOW * window : WINDOW * (window + 1)]
        self.groups["unseen_dataset"] = ordered[WINDOW * (window + 1) :]
