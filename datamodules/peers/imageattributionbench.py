"""ImageAttributionBench (mttry/ImageAttributionBench, "How Far Are We from Semantic-Free
Attribution?"): 22 text-to-image generators and ``real``, each in ten semantic sub-folders.

The layout its public loader (``dataset/ImageAttributionDataset/dataset.py``) reads::

    root/<generator>/AnimalFace/{cat,dog,wild}/   root/<generator>/COCO/
    root/<generator>/HumanFace/{FFHQ,celebahq}/   root/<generator>/ImageNet-1k/
    root/<generator>/Scene/{bedroom,church,classroom}/        root/real/... (the same)

Facts taken from that code: the generator folder names (``4o`` ... ``mid-6.0``) and the real
class ``real`` (label 22 of 23: attribution includes "not generated"); a generated image counts
only if it is a ``.png`` named ``..._p<prompt>_i<index>...`` with prompt < 1000 and index 0-1
(0-3 for the two Midjourney versions), real ones are ``.png``/``.jpg``/``.jpeg``; at most 2,000
images per semantic sub-folder and generator; Grok 3's images lose their bottom-right 100 x 50
pixels (its watermark) before use. Its semantic tasks (``semantic_split.get_semantic``) fit on
one sub-class - task 1 ``cat``, 2 ``bedroom``, 3 ``FFHQ`` - and test on the other nine.

Chosen here: its standard split is a seeded random 80/10/10 per class; the suite cuts by name
instead (every 5th image a test image, as ``imagefolder`` does), so splits do not depend on a
random generator's version. With a semantic task the known splits hold the task's sub-class
only and the split ``semantic_shift`` holds the known generators' (and real) images of the
other nine, each its own counterpart (``docs/protocols.md``). The benchmark has no unseen
generators; name some (``unseen_architecture: [...]``) for open set and zero shot.

    modelprint run --dataset=imageattributionbench --dataset_args='{root: /data/iab, semantic_task: 1}'
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import ConfigError, DataError
from datamodules import register_dataset
from datamodules.peers.folders import PeerFolders, images_in
from datamodules.public.splits import Entry

GENERATORS = (
    "4o",
    "CogView3_PLUS",
    "FLUX",
    "KANDINSKY",
    "PIXART",
    "PLAYGROUND_2_5",
    "SD1_5",
    "SD2_1",
    "SD3",
    "SD3_5",
    "SDXL",
    "dalle3",
    "gemini",
    "grok3",
    "hidream",
    "hunyuan",
    "ideogram",
    "infinity",
    "janus-pro",
    "kling",
    "mid-5.2",
    "mid-6.0",
)
REAL = "real"
#: semantic sub-class -> its folder under a generator
SEMANTIC_FOLDERS = {
    "cat": "AnimalFace/cat",
    "dog": "AnimalFace/dog",
    "wild": "AnimalFace/wild",
    "COCO": "COCO",
    "FFHQ": "HumanFace/FFHQ",
    "celebahq": "HumanFace/celebahq",
    "ImageNet-1k": "ImageNet-1k",
    "bedroom": "Scene/bedroom",
    "church": "Scene/church",
    "classroom": "Scene/classroom",
}
#: the sub-class each semantic task fits on
SEMANTIC_TASKS = {1: "cat", 2: "bedroom", 3: "FFHQ"}
GENERATED_NAME = re.compile(r"_p(\d+)_i(\d+)")
#: watermarks cut off before use: generator -> (pixels off the right, off the bottom)
WATERMARKS = {"grok3": (100, 50)}


@register_dataset("imageattributionbench")
class ImageAttributionBenchDataModule(PeerFolders):
    """ImageAttributionBench's folders; see the module docstring.

    Args:
        root: the data set's folder (one folder per generator and ``real``).
        semantic_task: 1, 2 or 3 - the benchmark's semantic tasks (fit on ``cat``, ``bedroom``
            or ``FFHQ``); or ``semantic_shift``: the sub-class(es) to fit on, by name.
        peer_selection: keep only the images the benchmark's loader keeps (file-name rule and
            ``images_per_semantic``); off reads every image.
        images_per_semantic: the cap per generator and semantic sub-folder (2,000 in its code).
        crop_watermarks: cut Grok 3's watermark off as its loader does.
        (and the :class:`PeerFolders` arguments; ``real`` and ``include_real`` default to the
        ``real`` folder as a known class when it is there)
    """

    peer = "ImageAttributionBench"
    peer_generators = GENERATORS
    real_generators = (REAL,)
    expected = "<root>/<generator>/<AnimalFace/cat|COCO|HumanFace/FFHQ|...>/*.png, <root>/real/..."

    def __init__(
        self,
        root: str | Path,
        semantic_task: int | None = None,
        semantic_shift: str | list[str] | None = None,
        peer_selection: bool = True,
        images_per_semantic: int = 2000,
        crop_watermarks: bool = True,
        real: list[str] | None = None,
        include_real: bool | None = None,
        **kwargs: Any,
    ) -> None:
        has_real = (Path(root) / REAL).is_dir()
        real = real if real is not None else ([REAL] if has_real else None)
        include_real = bool(real) if include_real is None else include_real
        super().__init__(root, real=real, include_real=include_real, **kwargs)
        if semantic_task is not None and semantic_shift is not None:
            raise ConfigError("semantic_task and semantic_shift both name what to fit on: give one")
        if semantic_task is not None and semantic_task not in SEMANTIC_TASKS:
            raise ConfigError(f"semantic_task {semantic_task!r}: the benchmark's tasks are {SEMANTIC_TASKS}")
        fit_on = [SEMANTIC_TASKS[semantic_task]] if semantic_task is not None else semantic_shift
        self.fit_on = [fit_on] if isinstance(fit_on, str) else fit_on
        unknown = sorted(set(self.fit_on or []) - set(SEMANTIC_FOLDERS))
        if unknown:
            raise ConfigError(f"semantic_shift {unknown}: not a sub-class; valid: {list(SEMANTIC_FOLDERS)}")
        self.peer_selection, self.images_per_semantic = peer_selection, images_per_semantic
        self.crop_watermarks = crop_watermarks
        self._semantic: dict[Path, str] = {}

    def semantic_files(self, generator: str) -> list[Path]:
        """Every image of a generator the benchmark reads, sub-class by sub-class in its order;
        each file's sub-class is remembered for the semantic split."""
        files = []
        for semantic, relative in SEMANTIC_FOLDERS.items():
            folder = self.root / generator / relative
            if not folder.is_dir():
                continue
            suffixes = (".png", ".jpg", ".jpeg") if generator == REAL else (".png",)
            chosen = [f for f in images_in(folder, suffixes) if self.selected(f, generator)]
            if self.peer_selection:
                chosen = chosen[: self.images_per_semantic]
            for f in chosen:
                self._semantic[f] = semantic
            files += chosen
        if not files:
            raise DataError(
                f"{self.root / generator}: no images in its semantic sub-folders "
                f"{list(SEMANTIC_FOLDERS.values())} (expected {self.expected})"
            )
        return files

    def selected(self, file: Path, generator: str) -> bool:
        """The benchmark's file-name rule for generated images (prompt < 1000, image index 0-1,
        0-3 for Midjourney); real images and ``peer_selection: false`` keep every file."""
        if generator == REAL or not self.peer_selection:
            return True
        match = GENERATED_NAME.search(file.name)
        indices = range(4) if generator.startswith("mid-") else range(2)
        return bool(match) and int(match.group(1)) < 1000 and int(match.group(2)) in indices

    def all_files(self, generator: str) -> list[Path]:
        files = self.semantic_files(generator)
        if self.fit_on is None:
            return files
        return [f for f in files if self._semantic[f] in self.fit_on]

    def unseen_files(self, generator: str) -> list[Path]:
        return self.semantic_files(generator)

    def part_entries(self, split: str, generators: list[str]) -> list[Entry]:
        return [self.uncovered(e) for e in super().part_entries(split, generators)]

    def entries(self, split: str) -> list[Entry]:
        return [self.uncovered(e) for e in super().entries(split)]

    def semantic_shift_entries(self) -> list[Entry]:
        """The known generators' (and real) images of the sub-classes they were not fitted on."""
        if self.fit_on is None:
            return super().semantic_shift_entries()
        generators = [*self.known_generators(), *(self.real if self.include_real else [])]
        return [
            self.uncovered(Entry(f, generator, str(f)))
            for generator in generators
            for f in self.semantic_files(generator)
            if self._semantic[f] not in self.fit_on
        ]

    def uncovered(self, entry: Entry) -> Entry:
        """An image of a watermarking generator with the watermark cut off (lossless PNG bytes)."""
        cut = WATERMARKS.get(entry.generator)
        if cut is None or not self.crop_watermarks:
            return entry
        with Image.open(entry.path) as image:
            width, height = image.size
            if width <= cut[0] or height <= cut[1]:
                raise DataError(f"{entry.path}: {width}x{height} is too small to cut its watermark {cut} off")
            buffer = io.BytesIO()
            image.convert("RGB").crop((0, 0, width - cut[0], height - cut[1])).save(buffer, format="PNG")
        return Entry(entry.path, entry.generator, entry.origin, buffer.getvalue())
