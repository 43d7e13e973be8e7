"""``SyntheticModelDataModule``: images of N synthetic models x M images, made on the fly.

An item is a *group*: ``images_per_group`` (K) images of one model; a batch is
``models_per_batch`` (P) groups of distinct models, i.e. the P x K batches a triplet loss
mines (Hermans et al. 2017; the paper's CE + triplet objective). Image ``j`` of model ``i``
has its input photo, crop and flip drawn from ``derive_seed(i, j)`` and the model runs in
eval mode, so the pixels depend on (model id, image index) and how images are batched
through the network only - not on the worker count, the batch, the order, or the process.
Fixed images are made a model's whole set at a time (:data:`GENERATION_PIXELS` per forward
pass); fresh ones a group at a time. (Batching convolutions differently changes float
rounding, which moves a rare pixel by one grey level after quantisation - measured: at most
1 level, on about 0.02% of pixels.)

Sampling: ``sampling="fixed"`` cycles through the fixed images ``0..M-1`` of each model;
``sampling="fresh"`` is the official trainer's scheme (Yang et al., arXiv 2307.15977, public
code): every group comes from a model drawn at random out of all N and from image indices
never used before (so a fresh input photo and flip), so a training budget buys breadth
rather than repeats. Groups keep K images of one model, so the batch-hard triplet term still
has positives (P random models x K fresh images a batch: our choice; the official batch of
200 independent draws has positives only by chance).

Splits: ``val_split="image"`` keeps the same models and holds out image indices (closed-set
validation); ``val_split="model"`` holds out whole models (zero-shot validation, as at test).

Speed: a :class:`ModelMajorBatchSampler` visits models in blocks of P and walks through all
their groups before moving on, sending all of a block's batches to one DataLoader worker,
and each worker keeps an LRU cache of built models, so a model is built about once per epoch
rather than once per item or once per worker. (The networks stay in NCHW: channels-last
convolutions run about a quarter faster here, but their float rounding - and so a rare
pixel - then depends on the thread count, i.e. on the worker count.)
``benchmarks/speed/synthetic_data.py`` measures what generation adds to a training step.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from core.seeding import derive_seed
from datamodules import register_training_dataset
from datamodules.synthetic.delivery import DeliveryChain
from datamodules.synthetic.model import SyntheticGenerator, build_synthetic_model, to_uint8
from datamodules.synthetic.space import ArchitectureSpace, get_space
from datamodules.zoo.training_sets import build_training_set


def input_photos(sources: Sequence[str], resolution: int) -> torch.Tensor:
    """The real photos synthetic models take as input (the paper: CelebA and LSUN crops)."""
    return torch.cat([build_training_set(name, resolution) for name in sources])


class SyntheticImages(Dataset):
    """Groups of K images of synthetic models ``model_ids``, image indices ``image_indices``."""

    def __init__(
        self,
        space: ArchitectureSpace,
        model_ids: Sequence[int],
        image_indices: Sequence[int],
        images_per_group: int,
        photos: torch.Tensor,
        fit_steps: int = 0,
        cache_models: int = 256,
        calibration_size: int = 16,
        delivery: DeliveryChain | None = None,
    ) -> None:
        if len(image_indices) < images_per_group:
            raise ValueError(
                f"{len(image_indices)} images per model cannot fill groups of {images_per_group}"
            )
        self.space, self.model_ids, self.image_indices = space, list(model_ids), list(image_indices)
        self.delivery = delivery
        self.k, self.photos, self.fit_steps = images_per_group, photos, fit_steps
        self.groups_per_model = len(self.image_indices) // images_per_group
        self.cache: OrderedDict[int, SyntheticGenerator] = OrderedDict()
        self.cache_models, self.calibration_size = cache_models, calibration_size
        self.made: OrderedDict[int, torch.Tensor] = OrderedDict()
        per_model = len(self.image_indices) * photos[0].numel()
        self.cache_image_sets = min(cache_models, IMAGE_CACHE_BYTES // max(per_model, 1))

    def __len__(self) -> int:
        return len(self.model_ids) * self.groups_per_model

    def inputs(self, model_id: int, indices: Sequence[int]) -> torch.Tensor:
        """The real input image for each (model, index): a photo, flipped by the same seed."""
        seeds = [derive_seed("synthetic-input", model_id, i) for i in indices]
        photos = self.photos[[s % len(self.photos) for s in seeds]].float() / 127.5 - 1
        flip = torch.tensor([(s >> 32) & 1 for s in seeds], dtype=torch.bool)
        return torch.where(flip[:, None, None, None], photos.flip(-1), photos)

    def model(self, model_id: int) -> SyntheticGenerator:
        if model_id in self.cache:
            self.cache.move_to_end(model_id)
            return self.cache[model_id]
        calibration = self.inputs(model_id, [-1 - i for i in range(self.calibration_size)])
        model = build_synthetic_model(self.space.spec(model_id), calibration, self.fit_steps)
        self.cache[model_id] = model
        if len(self.cache) > self.cache_models:
            self.cache.popitem(last=False)
        return model

    @torch.no_grad()
    def images(self, model_id: int, indices: Sequence[int]) -> torch.Tensor:
        """uint8 images of one model at the given image indices."""
        return to_uint8(self.model(model_id)(self.inputs(model_id, indices)))

    def image_set(self, model_id: int) -> torch.Tensor:
        """uint8 images of one model at all of ``image_indices``, made in a few large forward
        passes (a group of K images is too small to keep a CPU busy) and kept while the cache
        allows, so later epochs over fixed images cost no generation."""
        if model_id in self.made:
            self.made.move_to_end(model_id)
            return self.made[model_id]
        chunk = max(self.k, GENERATION_PIXELS // self.photos[0, 0].numel() // self.k * self.k)
        indices = self.image_indices
        made = torch.cat(
            [self.images(model_id, indices[i : i + chunk]) for i in range(0, len(indices), chunk)]
        )
        if self.cache_image_sets > 0:
            self.made[model_id] = made
            if len(self.made) > self.cache_image_sets:
                self.made.popitem(last=False)
        return made

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A group of K images. An int item ``round * len(self) + group`` is a fixed group in its
        ``round``-th visit (the round only varies the delivery chain: a fixed image is delivered
        afresh each time it is drawn); a tuple is a fresh group (model position, first index)."""
        if isinstance(item, tuple):  # fresh sampling: (model position, first fresh image index)
            position, first = item
            model_id, round_ = self.model_ids[position], 0
            indices: Sequence[int] = range(first, first + self.k)
            made = self.images(model_id, indices)
        else:
            round_, item = divmod(item, len(self))
            position, group = divmod(item, self.groups_per_model)
            model_id = self.model_ids[position]
            made = self.image_set(model_id)[group * self.k : (group + 1) * self.k]
            indices = self.image_indices[group * self.k : (group + 1) * self.k]
        if self.delivery is not None:
            made = self.delivery(made, model_id, indices, round_)
        return made.float() / 127.5 - 1, torch.full((self.k,), position), torch.full((self.k,), model_id)


def collate_groups(batch: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.cat(parts) for parts in zip(*batch, strict=True))


class ResumableBatches:
    """What lets a killed training continue with the very batches an uninterrupted one sees.

    A batch sampler's order is a function of its seed and epoch; :meth:`resume_at` makes the
    next pass start after the batches already trained on, which Lightning sets on restore
    through :class:`ResumableLoader` (its ``state_dict`` / ``load_state_dict`` interface)."""

    skip = 0
    epoch = 0

    def resume_at(self, batches_done: int) -> None:
        """Continue after ``batches_done`` training batches: in the pass they fall in, after
        them (Lightning never calls a batch sampler's ``set_epoch``, so the pass is set here)."""
        self.epoch, self.skip = divmod(batches_done, len(self))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator:
        skip, self.skip = self.skip, 0
        for i, batch in enumerate(self.epoch_batches()):
            if i >= skip:
                yield batch

    def epoch_batches(self) -> Iterator:
        raise NotImplementedError


class ResumableLoader(DataLoader):
    """A DataLoader Lightning can restore mid-epoch: its state is the number of training
    batches consumed (the trainer's global step: one batch a step, no gradient accumulation),
    from which its batch sampler skips ahead on restore."""

    def __init__(self, *args: Any, batches_done: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_done = batches_done

    def state_dict(self) -> dict[str, int]:
        return {"batches_done": int(self.batches_done())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.batch_sampler.resume_at(int(state["batches_done"]))  # type: ignore[union-attr]


class ModelMajorBatchSampler(ResumableBatches, Sampler[list[int]]):
    """Batches of P distinct models; all groups of a block of P models before the next block.

    ``interleave=True`` instead makes ``groups_per_model`` rounds, each visiting every model
    once in a fresh order: consecutive batches then hold different models (what SGD on a
    many-class objective needs), at the price of keeping every model built in the worker's
    cache (``cache_models >= num_models``; otherwise models are rebuilt each round).

    Distributed runs: rank ``r`` owns the models at positions ``r, r + world_size, ...`` (as
    many for every rank, so all ranks make the same number of steps), fixed for the run and
    visited in each epoch's shuffled order: no model is built or trained on by two processes.

    ``lanes`` (the DataLoader's worker count): the DataLoader hands batch ``i`` to worker
    ``i % lanes``; the rank's models are split into ``lanes`` fixed sets, blocks are formed
    within a set, and the sets' batches alternate, so each worker builds and caches only its
    own set's models - in every epoch, not just the first.

    ``rounds``: items carry the epoch (``epoch * len(dataset) + group``), so a dataset with a
    delivery chain delivers a fixed image afresh at each visit (:meth:`SyntheticImages.__getitem__`).
    """

    def __init__(
        self,
        num_models: int,
        groups_per_model: int,
        models_per_batch: int,
        shuffle: bool,
        seed: int = 0,
        interleave: bool = False,
        rank: int = 0,
        world_size: int = 1,
        lanes: int = 1,
        rounds: bool = False,
    ) -> None:
        self.interleave, self.rank, self.world_size, self.rounds = interleave, rank, world_size, rounds
        self.n, self.g, self.p, self.shuffle, self.seed, self.epoch = (
            num_models,
            groups_per_model,
            min(models_per_batch, num_models),
            shuffle,
            seed,
            0,
        )
        share = num_models if world_size == 1 else num_models // world_size // self.p * self.p
        if share < self.p:
            raise ValueError(
                f"{num_models} models in batches of {self.p} cannot be shared among "
                f"{world_size} processes: every process needs at least one batch of models"
            )
        self.share = list(range(rank, num_models, world_size))[:share]
        lanes = 1 if interleave else max(1, min(lanes, share // self.p))
        self.lanes = [set(self.share[lane::lanes]) for lane in range(lanes)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return sum(len(lane) // self.p for lane in self.lanes) * self.g

    def epoch_batches(self) -> Iterator[list[int]]:
        rng = random.Random(derive_seed("model-major", self.seed, self.epoch))
        base = self.epoch * self.n * self.g if self.rounds else 0  # items name their visit
        self.epoch += 1
        order = list(range(self.n))
        if self.shuffle:
            rng.shuffle(order)
        groups = {
            m: rng.sample(range(self.g), self.g) if self.shuffle else list(range(self.g)) for m in order
        }
        if self.world_size > 1:
            owned = set(self.share)
            order = [m for m in order if m in owned]
        if self.interleave:  # round j: every model's j-th group, models freshly permuted each round
            for j in range(self.g):
                if self.shuffle and j:
                    rng.shuffle(order)
                for start in range(0, len(order) - self.p + 1, self.p):
                    yield [base + m * self.g + groups[m][j] for m in order[start : start + self.p]]
            return
        lanes = [[m for m in order if m in lane] for lane in self.lanes]
        blocks = [[ms[i : i + self.p] for i in range(0, len(ms) - self.p + 1, self.p)] for ms in lanes]
        for i in range(max(len(b) for b in blocks)):
            together = [b[i] for b in blocks if i < len(b)]
            for j in range(self.g):
                for block in together:
                    yield [base + m * self.g + groups[m][j] for m in block]


class FreshBatchSampler(ResumableBatches, Sampler[list[tuple[int, int]]]):
    """P models drawn at random (distinct within a batch) out of all N, each with K image
    indices never drawn before: items ``(model position, first image index)``.

    Image indices start at :data:`FRESH_INDEX_OFFSET`, above any fixed set's, and count up
    with (epoch, batch, rank, slot), so no (model, image) pair repeats within or across epochs,
    nor between the processes of a distributed run (each rank draws its own batches).

    Distributed runs: rank ``r`` draws its models from positions ``r, r + world_size, ...``
    (as many for every rank), fixed for the run, so no model is built or trained on by two
    processes (a share must hold at least P models).
    """

    def __init__(
        self,
        num_models: int,
        models_per_batch: int,
        images_per_group: int,
        batches: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.n, self.p, self.k = num_models, min(models_per_batch, num_models), images_per_group
        self.batches, self.seed, self.epoch = batches, seed, 0
        self.rank, self.world_size = rank, world_size
        share = num_models // world_size
        if share < self.p:
            raise ValueError(
                f"{num_models} models cannot be shared among {world_size} processes in batches of "
                f"{self.p} distinct models: each process needs at least {self.p}"
            )
        self.share = range(rank, share * world_size, world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches

    def epoch_batches(self) -> Iterator[list[tuple[int, int]]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        stream = (self.seed, epoch) if self.world_size == 1 else (self.seed, epoch, self.rank)
        seed = derive_seed("fresh-batches", *stream) % 2**63
        generator = torch.Generator().manual_seed(seed)
        for b in range(self.batches):
            models = [self.share[i] for i in torch.randperm(len(self.share), generator=generator)[: self.p]]
            draw = (epoch * self.batches + b) * self.world_size + self.rank  # unique across ranks
            base = FRESH_INDEX_OFFSET + draw * self.p * self.k
            yield [(m, base + slot * self.k) for slot, m in enumerate(models)]


FRESH_INDEX_OFFSET = 1 << 20
#: pixels per image-generation forward pass (64 images at 32 x 32); at least one group
GENERATION_PIXELS = 64 * 32 * 32
#: bytes of generated fixed images each worker keeps (models whose images are cached)
IMAGE_CACHE_BYTES = 256 * 2**20
SAMPLINGS = ("fixed", "fresh")


@register_training_dataset("synthetic")
class SyntheticModelDataModule(L.LightningDataModule):
    """Images of N synthetic models x M images each, generated on the fly (Yang et al. 2023).

    Args:
        num_models: N; models are ids ``first_model_id .. first_model_id + N - 1``.
        images_per_model: M.
        space: name of an architecture space (``paper``, ``extended``, ``paper_nearest_only`` ...).
        resolution: image size (default 32, matching the embedded zoo).
        images_per_group: K images of one model per item.
        models_per_batch: P models per batch (batch = P x K images).
        val_split: ``image`` (hold out image indices) or ``model`` (hold out whole models).
        val_fraction: share of images (or models) held out for validation (0: none).
        input_sources: training sets whose photos the models take as input.
        fit_steps: reconstruction-fitting steps per model (0: calibrated random weights).
        num_workers: DataLoader workers generating images.
        cache_models: models each worker keeps built.
        first_model_id: the first model id (sets of models need not start at 0).
        seed: shuffling seed.
        interleave: training batches cycle through all models round by round instead of
            block by block (see :class:`ModelMajorBatchSampler`).
        sampling: ``fixed`` (images ``0..M-1`` of each model, repeated each epoch) or ``fresh``
            (random model, never-seen images each group; an epoch is as many images as
            ``fixed`` would give). See the module docstring.
        val_images_per_model: with ``val_split="model"``, images of each held-out model that
            validation scores (default: all ``images_per_model``).
        delivery: pass each generated image through a random post-processing chain (JPEG,
            resizing, blur, noise, crops; :mod:`datamodules.synthetic.delivery`): ``True`` for the
            default chain, a mapping for its settings, ``None`` for pristine images. Training
            images are delivered afresh at each visit; validation images always the same way,
            so checkpoints are selected on delivered held-out models with no noise between
            validations.
    """

    def __init__(
        self,
        num_models: int = 1000,
        images_per_model: int = 32,
        space: str = "paper",
        resolution: int = 32,
        images_per_group: int = 8,
        models_per_batch: int = 8,
        val_split: str = "image",
        val_fraction: float = 0.125,
        input_sources: Sequence[str] = ("photos", "faces"),
        fit_steps: int = 0,
        num_workers: int = 2,
        cache_models: int = 256,
        first_model_id: int = 0,
        seed: int = 0,
        interleave: bool = False,
        sampling: str = "fixed",
        val_images_per_model: int | None = None,
        delivery: dict[str, Any] | bool | None = None,
    ) -> None:
        super().__init__()
        if val_split not in ("image", "model"):
            raise ValueError(f"val_split must be 'image' or 'model', got {val_split!r}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if sampling == "fresh" and val_split == "image" and val_fraction > 0:
            raise ValueError("fresh sampling validates on held-out models: set val_split: model")
        if num_models < 1 or images_per_model < images_per_group:
            raise ValueError(
                f"need num_models >= 1 and images_per_model >= images_per_group, "
                f"got {num_models} and {images_per_model} < {images_per_group}"
            )
        self.space = get_space(space)
        self.space.check_resolution(resolution)
        self.delivery = DeliveryChain.from_config(delivery)
        self.save_hyperparameters()
        self.photos: torch.Tensor | None = None

    def _split(self) -> tuple[tuple[list[int], list[int]], tuple[list[int], list[int]]]:
        h = self.hparams
        ids = list(range(h.first_model_id, h.first_model_id + h.num_models))
        indices = list(range(h.images_per_model))
        if h.val_fraction <= 0:  # no validation (e.g. a scaling study at a fixed image budget)
            return (ids, indices), ([], [])
        if h.val_split == "model":
            n_val = max(1, round(h.num_models * h.val_fraction)) if h.num_models > 1 else 0
            val_indices = indices[: h.val_images_per_model] if h.val_images_per_model else indices
            return (ids[: len(ids) - n_val], indices), (ids[len(ids) - n_val :], val_indices)
        k = h.images_per_group
        n_val = max(k, round(h.images_per_model * h.val_fraction) // k * k)
        return (ids, indices[: len(indices) - n_val]), (ids, indices[len(indices) - n_val :])

    @property
    def train_model_ids(self) -> list[int]:
        return self._split()[0][0]

    @property
    def num_classes(self) -> int:
        return len(self.train_model_ids)

    def setup(self, stage: str | None = None) -> None:
        if self.photos is None:
            self.photos = input_photos(self.hparams.input_sources, self.hparams.resolution)
        (train_ids, train_idx), (val_ids, val_idx) = self._split()
        h = self.hparams

        def make(ids: list[int], idx: list[int]) -> SyntheticImages:
            return SyntheticImages(
                self.space,
                ids,
                idx,
                h.images_per_group,
                self.photos,
                h.fit_steps,
                h.cache_models,
                delivery=self.delivery,
            )

        self.train_set = make(train_ids, train_idx)
        self.val_set = (
            make(val_ids, val_idx) if val_ids and len(val_idx) >= self.hparams.images_per_group else None
        )

    def _loader(self, dataset: SyntheticImages, shuffle: bool) -> DataLoader:
        sampler = ModelMajorBatchSampler(
            len(dataset.model_ids),
            dataset.groups_per_model,
            self.hparams.models_per_batch,
            shuffle,
            self.hparams.seed,
            interleave=self.hparams.interleave and shuffle,
            # training batches are shared out between processes; every process validates all
            **dict(zip(("rank", "world_size"), self._rank() if shuffle else (0, 1), strict=True)),
            lanes=self.hparams.num_workers,
            rounds=shuffle,
        )
        return self._data_loader(dataset, sampler, training=shuffle)

    def _data_loader(self, dataset: SyntheticImages, sampler: Sampler, training: bool) -> DataLoader:
        """Training loaders are resumable mid-epoch (:class:`ResumableLoader`); validation
        loaders always start from their first batch."""
        workers = self.hparams.num_workers
        options = {"num_workers": workers, "collate_fn": collate_groups, "persistent_workers": workers > 0}
        if training:
            return ResumableLoader(dataset, batch_sampler=sampler, batches_done=self._batches_done, **options)
        return DataLoader(dataset, batch_sampler=sampler, **options)

    def _batches_done(self) -> int:
        trainer = self.trainer
        return trainer.global_step if trainer is not None else 0

    def _rank(self) -> tuple[int, int]:
        """This process's rank and the number of processes (1 outside a distributed run)."""
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        if self.hparams.sampling == "fresh":
            h, dataset = self.hparams, self.train_set
            batch_images = min(h.models_per_batch, len(dataset.model_ids)) * h.images_per_group
            batches = max(1, len(dataset.model_ids) * h.images_per_model // batch_images)
            rank, world_size = self._rank()
            sampler = FreshBatchSampler(
                len(dataset.model_ids),
                h.models_per_batch,
                h.images_per_group,
                batches,
                h.seed,
                rank,
                world_size,
            )
            return self._data_loader(dataset, sampler, training=True)
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_set, shuffle=False) if self.val_set is not None else []
