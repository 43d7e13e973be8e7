"""The zoo recipe (``zoo.yaml``): which generators exist, how they are trained, and their roles."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.hashing import config_hash
from core.paths import config_file
from datamodules.zoo.families import family_settings

RECIPE_PATH = config_file("zoo", "zoo.yaml")
ROLES = ("known", "unseen_seed", "unseen_dataset", "unseen_architecture")
# Overrides the recipe itself applies (the plan's steps, the spec's loss); any other override is
# a training setting passed to the family's LightningModule.
RECIPE_OVERRIDES = ("steps", "loss")


@dataclass(frozen=True)
class GeneratorSpec:
    """One generator of the zoo: what it is and what role it plays in the splits."""

    architecture: str
    family: str
    loss: str
    dataset: str
    seed: int
    role: str
    overrides: tuple[tuple[str, Any], ...] = ()  # per-generator training settings (steps, loss, lr ...)

    @property
    def generator_id(self) -> str:
        return f"{self.architecture}-{self.dataset}-s{self.seed}"


@dataclass(frozen=True)
class ZooRecipe:
    raw: dict[str, Any]
    text: str  # the YAML as written, comments included; shipped with the artifact

    @classmethod
    def load(cls, path: str | Path = RECIPE_PATH) -> ZooRecipe:
        text = Path(path).read_text()
        raw = yaml.safe_load(text)
        unknown = set(raw["roles"]) - set(ROLES)
        if unknown:
            raise ValueError(f"{path}: unknown role(s) {sorted(unknown)}; valid: {ROLES}")
        return cls(raw, text)

    @property
    def resolution(self) -> int:
        return int(self.raw["resolution"])

    @property
    def hash(self) -> str:
        return config_hash(self.raw)

    def generators(self) -> list[GeneratorSpec]:
        specs: dict[str, GeneratorSpec] = {}
        for role, grids in self.raw["roles"].items():
            cells = [
                cell
                for grid in (grids if isinstance(grids, list) else [grids])
                for cell in itertools.product(grid["architectures"], grid["datasets"], grid["seeds"])
            ]
            for name, dataset, seed in cells:
                if name not in self.raw["architectures"]:
                    raise ValueError(f"role {role!r} names unknown architecture {name!r}")
                arch = self.raw["architectures"][name]
                spec = GeneratorSpec(name, arch["family"], arch["loss"], dataset, int(seed), role)
                extra = (self.raw.get("overrides") or {}).get(spec.generator_id, {})
                valid = (*RECIPE_OVERRIDES, *family_settings(spec.family))
                unknown = set(extra) - set(valid)
                if unknown:
                    raise ValueError(
                        f"override for {spec.generator_id}: unknown setting(s) {sorted(unknown)}; "
                        f"valid: {', '.join(valid)}"
                    )
                spec = dataclasses.replace(
                    spec, loss=extra.get("loss", spec.loss), overrides=tuple(sorted(extra.items()))
                )
                if spec.generator_id in specs:
                    raise ValueError(f"generator {spec.generator_id} is in two roles")
                specs[spec.generator_id] = spec
        return list(specs.values())

    def steps(self, spec: GeneratorSpec) -> int:
        """Training iterations of one generator: its override, else its family's budget."""
        return int(dict(spec.overrides).get("steps", self.raw["steps"][spec.family]))

    def precision(self, spec: GeneratorSpec) -> str:
        """Lightning precision a generator trains at: its family's entry under ``precision``
        (e.g. ``bf16-mixed`` for DDPMs, twice as fast on a CPU with bf16 units), else fp32."""
        return str((self.raw.get("precision") or {}).get(spec.family, "32-true"))

    def revision(self, spec: GeneratorSpec) -> int:
        """The architecture's ``revision`` (1 unless set): bumped when its code changes how it
        trains, so that generators built with the old code are not taken as built."""
        return int(self.raw["architectures"][spec.architecture].get("revision", 1))

    def network(self, architecture: str) -> dict[str, Any]:
        """The architecture's ``network`` settings (constructor keywords of its main network,
        e.g. ``{width: 4, scales: 2}`` for the PixelCNN); empty for the code's defaults."""
        return dict(self.raw["architectures"][architecture].get("network") or {})

    def check_overrides(self) -> None:
        """Every override must name a generator of the recipe."""
        ids = {s.generator_id for s in self.generators()}
        stray = set(self.raw.get("overrides") or {}) - ids
        if stray:
            raise ValueError(f"overrides for generators not in the recipe: {sorted(stray)}")

    def training_datasets(self) -> list[str]:
        return sorted({spec.dataset for spec in self.generators()})
