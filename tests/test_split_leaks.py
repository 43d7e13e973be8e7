"""Leaks into "unseen" splits are refused on every split a run reads (``unseen_all`` included,
which is the only unseen split of a plain folder of one's own generators), and the data set's
own record (residual spectra) is over the groups the run really has.

Each case of issue 45's probe is one test: copies of a known generator's images, a folder that
*is* a reference known generator, the reference's own known images under a new name, one image
under two unseen generators, a JPEG re-encoding of a known image; ``allow_overlap`` stays the
escape hatch. Data sets are image folders built here, read as a run reads them
(:func:`benchmarks.runner.load_splits`: the zoo's known splits when none are named known).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.cli import main
from benchmarks.config import BenchmarkConfig
from benchmarks.data_records import generator_groups, record_data, residual_spectra
from benchmarks.runner import load_splits
from benchmarks.split_integrity import (
    NEAR_CORRELATION,
    check_near_duplicates,
    check_split_integrity,
    ungrouped_unseen,
)
from core.errors import DataError
from core.metrics.synthetic_quality import MeanResidualSpectrum
from leaderboards.store import ResultsStore
from tests.test_bring_your_own import one_line_error

RNG = np.random.default_rng(45)


def noise_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
    return path


def save(path: Path, image: torch.Tensor, fmt: str = "PNG", quality: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": quality} if quality else {}
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, fmt, **options)
    return path


def folder(root: Path, generators: int = 3, images: int = 10) -> Path:
    """``root/gen<g>/<i>.png``: generators of random pictures, none a copy of another."""
    for g in range(generators):
        for i in range(images):
            noise_png(root / f"gen{g}" / f"{i:02d}.png")
    return root


def splits_of(root: Path, **args: Any) -> dict[str, Any]:
    """The splits a run on the image folder reads (known ones from the zoo when none named)."""
    splits, _, _ = load_splits(
        BenchmarkConfig(dataset="imagefolder", dataset_args={"path": str(root), **args})
    )
    return splits


def refused(splits: dict[str, Any], match: str) -> None:
    with pytest.raises(DataError, match=match) as error:
        check_split_integrity(splits)
    assert "\n" not in str(error.value), "one line"


@pytest.fixture(scope="module")
def zoo() -> dict[str, Any]:
    splits, _, _ = load_splits(BenchmarkConfig())
    return splits


@pytest.fixture(scope="module")
def zoo_known(zoo: dict[str, Any]) -> tuple[str, torch.Tensor]:
    """A known generator of the zoo (the reference) and ten of its training images."""
    train = zoo["known_train"]
    return train.generator_ids[1], train.images[train.labels == 1][:10]


def test_the_zoo_passes_every_check_and_its_record_keeps_its_groups(zoo: dict[str, Any]) -> None:
    """No false alarm on the zoo (every split, unseen_all included); the time is printed, not
    asserted (the checks run before every benchmark)."""
    start = time.perf_counter()
    check_split_integrity(zoo)
    print(
        f"split checks on the zoo ({sum(len(s.labels) for s in zoo.values())} images): "
        f"{time.perf_counter() - start:.2f} s"
    )
    assert ungrouped_unseen(zoo) == (), "the zoo's unseen_all is its named groups"
    groups = {group for group, _ in generator_groups(zoo).values()}
    assert "unseen_all" not in groups and {"known", "unseen_seed", "real"} <= groups


def test_copies_of_a_known_generators_images_are_refused(tmp_path: Path) -> None:
    root = folder(tmp_path / "mine")
    for i in range(10):
        (root / "copy").mkdir(exist_ok=True)
        (root / "copy" / f"{i:02d}.png").write_bytes((root / "gen0" / f"{i:02d}.png").read_bytes())
    splits = splits_of(root, known=["gen0"])
    refused(splits, r"10 image\(s\) are in two splits, e.g. .*copy/\d+.png \(unseen_all\)")
    check_split_integrity(splits, allow_overlap=True)  # the deliberate overlap study


def test_a_folder_that_is_a_reference_known_generator_is_refused(
    tmp_path: Path, zoo_known: tuple[str, torch.Tensor]
) -> None:
    name, images = zoo_known
    root = folder(tmp_path / "mine")
    for i, image in enumerate(images):
        save(root / name / f"{i:02d}.png", image)
    splits = splits_of(root)
    refused(splits, f"generator '{name}' is both known and unseen_all")
    with pytest.raises(DataError, match="is both known and unseen_all"):
        check_split_integrity(splits, allow_overlap=True)  # a role is not an overlap study


def test_the_references_known_images_under_a_new_name_are_refused(
    tmp_path: Path, zoo_known: tuple[str, torch.Tensor]
) -> None:
    root = folder(tmp_path / "mine")
    for i, image in enumerate(zoo_known[1]):
        save(root / "fresh" / f"{i:02d}.png", image)
    refused(
        splits_of(root),
        r"10 image\(s\) are in two splits, e.g. .*fresh/\d+.png \(unseen_all\) is the same image as "
        "known_train",
    )


def test_one_image_under_two_unseen_generators_is_refused(tmp_path: Path) -> None:
    root = folder(tmp_path / "mine")
    (root / "gen2" / "07.png").write_bytes((root / "gen1" / "05.png").read_bytes())
    refused(
        splits_of(root),
        r"1 image\(s\) are under two generators, e.g. .*gen2/07.png \(gen2\) .* \(gen1\) in unseen_all",
    )
    grouped = splits_of(root, unseen_seed=["gen1"], unseen_dataset=["gen2"])  # named groups: two splits
    refused(grouped, r"1 image\(s\) are in two splits")
    check_split_integrity(grouped, allow_overlap=True)


def test_one_image_twice_in_an_unseen_generator_is_refused(tmp_path: Path) -> None:
    """A query would meet its own copy among zero shot's references."""
    root = folder(tmp_path / "mine")
    (root / "gen1" / "09.png").write_bytes((root / "gen1" / "02.png").read_bytes())
    refused(
        splits_of(root), r"1 image\(s\) are twice among one generator's test images, .*\(gen1, unseen_all\)"
    )


def test_a_jpeg_re_encoding_of_a_known_image_is_refused(
    tmp_path: Path, zoo_known: tuple[str, torch.Tensor]
) -> None:
    name, images = zoo_known
    root = folder(tmp_path / "mine")
    save(root / "gen2" / "zz.jpg", images[3], "JPEG", 75)
    splits = splits_of(root)
    refused(
        splits,
        rf"1 image\(s\) are near copies of another generator's image, e.g. .*zz.jpg \(gen2, unseen_all\) "
        rf"looks like .*\({name}, known_train\)",
    )
    check_split_integrity(splits, allow_overlap=True)


def test_the_cli_refuses_a_leak_in_one_line_before_any_work(
    private_paths: Path, zoo_known: tuple[str, torch.Tensor], capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder(private_paths / "mine")
    for i, image in enumerate(zoo_known[1]):
        save(root / "fresh" / f"{i:02d}.jpg", image, "JPEG", 90)
    args = ["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}}}", "--methods=[spectral]"]
    err = one_line_error(args, capsys)
    assert "10 image(s) are near copies" in err and "--allow_overlap=true" in err
    assert not ResultsStore(private_paths / "results.sqlite").runs(), "nothing fitted, nothing written"


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=quality)
    return torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)


def fake(name: str, images: torch.Tensor, generators: tuple[str, ...]) -> Any:
    """A split as the checks read it: images, labels (one generator per image), ids."""
    from types import SimpleNamespace

    labels = torch.arange(len(images)) % len(generators)
    return SimpleNamespace(name=name, images=images, labels=labels, generator_ids=generators, origins=None)


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda x: jpeg(x, 75), True),
        (lambda x: jpeg(x, 50), True),
        (lambda x: (x.int() + 12).clamp(0, 255).to(torch.uint8), True),  # brightened
        (lambda x: x.flip(-1), False),  # a mirrored copy is missed (as the docstring says)
    ],
)
def test_what_the_near_copy_check_finds_and_misses(change: Any, found: bool) -> None:
    """Smooth pictures (as a generator's are) and one changed copy under another generator."""
    smooth = torch.nn.functional.avg_pool2d(
        torch.rand(4, 3, 40, 40, generator=torch.Generator().manual_seed(0)), 9, 1
    )[:, :, :32, :32]
    low, high = smooth.amin((1, 2, 3), keepdim=True), smooth.amax((1, 2, 3), keepdim=True)
    images = ((smooth - low) / (high - low) * 255).to(torch.uint8)  # the full range, as a picture's
    splits = {
        "known_train": fake("known_train", images, ("a", "b")),
        "unseen_all": fake("unseen_all", change(images[0])[None], ("c",)),
    }
    if found:
        with pytest.raises(DataError, match=f">= {NEAR_CORRELATION}"):
            check_near_duplicates(splits)
    else:
        check_near_duplicates(splits)


def test_a_flat_picture_is_compared_only_exactly() -> None:
    """Near-flat pictures (all black, say) repeat innocently between generators: not near copies."""
    flat = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    flat[1, :, 0, 0] = 3  # not the same pixels, the same (empty) picture
    splits = {
        "known_train": fake("known_train", flat[:1], ("a",)),
        "unseen_all": fake("unseen_all", flat[1:], ("c",)),
    }
    check_split_integrity(splits)
    splits["unseen_all"] = fake("unseen_all", flat[:1].clone(), ("c",))
    refused(splits, "are in two splits")


def test_a_lossless_copy_in_another_format_is_an_exact_copy(tmp_path: Path) -> None:
    """Pixels, not files, are compared: a PNG saved again as BMP is the same image."""
    root = folder(tmp_path / "mine")
    Image.open(root / "gen1" / "03.png").save(root / "gen2" / "copy.bmp")
    refused(splits_of(root), r"1 image\(s\) are under two generators, e.g. .*gen2/copy.bmp")


# the data set's own record ----------------------------------------------------------------


def test_the_record_of_a_folder_with_nothing_named_is_its_own_generators(tmp_path: Path) -> None:
    splits = splits_of(folder(tmp_path / "mine"))
    rows, spectra, diversity = residual_spectra(splits, reference_known=True)
    assert [(r["generator"], r["group"], r["images"]) for r in rows] == [
        (f"gen{g}", "unseen_all", 10) for g in range(3)
    ], "not the reference's known generators"
    assert spectra.shape == (3, 32, 32) and diversity is not None and diversity > 0
    store = ResultsStore(tmp_path / "r.sqlite")
    run_id = record_data(store, splits, "imagefolder:mine", "h", {}, reference_known=True)
    (run,) = store.runs(method="data")
    assert (
        run["run_id"] == run_id
        and json.loads(run["config_json"])["known_splits"] == "the reference's, left out"
    )
    assert [f["metric"] for f in store.figure_rows(run_id=run_id)] == ["fingerprint_diversity"]


def test_the_record_with_one_known_generator_and_the_rest_ungrouped(tmp_path: Path) -> None:
    rows, _, diversity = residual_spectra(splits_of(folder(tmp_path / "mine"), known=["gen0"]))
    assert [(r["generator"], r["group"]) for r in rows] == [
        ("gen0", "known"),
        ("gen1", "unseen_all"),
        ("gen2", "unseen_all"),
    ]
    assert diversity is not None


def test_a_generator_of_few_images_and_a_single_generator_are_recorded(tmp_path: Path) -> None:
    root = folder(tmp_path / "mine", generators=2)
    for i in range(3):
        noise_png(root / "tiny" / f"{i}.png")
    splits = splits_of(root, known=["gen0", "tiny"])
    assert not bool((splits["known_test"].labels == splits["known_test"].generator_ids.index("tiny")).any())
    rows, spectra, _ = residual_spectra(splits)
    tiny = next(i for i, r in enumerate(rows) if r["generator"] == "tiny")
    assert rows[tiny]["images"] == 3 and torch.isfinite(spectra[tiny]).all(), "over the images it has"
    alone = splits_of(folder(tmp_path / "one", generators=1))
    store = ResultsStore(tmp_path / "r.sqlite")
    assert residual_spectra(alone, reference_known=True)[2] is None, "no pair, no diversity"
    assert record_data(store, alone, "imagefolder:one", "h", {}, reference_known=True) is None
    assert store.runs(method="data") == [], "no figure, no run"


def test_an_empty_batch_leaves_the_mean_spectrum_as_it_was() -> None:
    metric = MeanResidualSpectrum(2, 8)
    images = torch.randint(
        0, 256, (3, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
    )
    metric.update(images, torch.tensor([0, 0, 1]))
    before = metric.compute().clone()
    metric.update(images[:0], torch.zeros(0, dtype=torch.long))
    assert torch.equal(metric.compute(), before) and metric.counts.tolist() == [2.0, 1.0]


def test_a_run_on_a_folder_records_its_own_generators(private_paths: Path) -> None:
    """Through the runner: the known splits borrowed from the reference are not recorded."""
    root = folder(private_paths / "mine", generators=3, images=10)
    protocol = "--protocol_args={zero_shot: {gallery_per_model: 4, episodes: 2, pairs_per_episode: 50}}"
    args = ["run", "--dataset=imagefolder", f"--dataset_args={{path: {root}}}", "--protocols=[zero_shot]"]
    assert main([*args, "--methods=[spectral]", "--bootstrap_samples=0", protocol]) == 0
    (record,) = ResultsStore(private_paths / "results.sqlite").runs(method="data")
    listed = json.loads(record["details_json"])["generators"]
    assert {(r["generator"], r["group"]) for r in listed} == {(f"gen{g}", "unseen_all") for g in range(3)}


def test_a_record_of_many_generators_keeps_a_page_of_spectra_and_lists_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmarks.data_records as records
    from leaderboards.plots import plot_residual_spectra

    monkeypatch.setattr(records, "SPECTRA_SHOWN", 2)
    splits = splits_of(folder(tmp_path / "mine", images=3))
    store = ResultsStore(tmp_path / "r.sqlite")
    record_data(store, splits, "imagefolder:mine", "h", {}, reference_known=True)
    (run,) = store.runs(method="data")
    details = json.loads(run["details_json"])
    assert len(details["generators"]) == 3 and len(details["spectra"]) == 2
    (tmp_path / "board").mkdir()
    (png,) = plot_residual_spectra(store, tmp_path / "board")
    assert png.stat().st_size > 0
