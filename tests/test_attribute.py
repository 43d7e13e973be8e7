"""``modelprint gallery`` / ``modelprint attribute`` and the :class:`Gallery` API (issue 44).

The fabricated data set's generators (tests/fabricated.py, 32-px images with a periodic trace
each) are written out as an image folder, so every path is the real one: files decoded by the
data loaders' reader, embedded through ``Trainer.predict``. The noise residual is the quick
method (nothing to load); the flagship, whose zero-shot accuracy on these images is not 1,
carries the consistency check against the zero-shot protocol.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

import tests.fabricated as fabricated
from benchmarks.attribution import Gallery
from benchmarks.attribution.embedding import MethodSpec, fitted_method
from benchmarks.attribution.gallery import UNKNOWN, far_threshold
from benchmarks.cli import main
from benchmarks.featurise import extract
from benchmarks.protocols.zero_shot import ZeroShotProtocol
from core.seeding import generator_for
from lightning_modules.base import Features

QUICK = ["--method=noise_residual", "--reference=fabricated"]


def write_png(image: torch.Tensor, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
    return str(path)


def fabricated_folder(
    root: Path, split: str = "unseen_all", rows: dict[int, list[int]] | None = None
) -> Path:
    """The split's images as ``root/<generator>/<row>.png`` (every image, or ``rows`` per label)."""
    data = fabricated.fabricated_split(split)
    for row in range(len(data)):
        label = int(data.labels[row])
        if rows is None or row in rows.get(label, ()):
            write_png(data.images[row], root / data.generator_ids[label] / f"{row:04d}.png")
    return root


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fabricated_folder(tmp_path_factory.mktemp("refs") / "refs")


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str], status: int = 2) -> str:
    capsys.readouterr()
    assert main(args) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_gallery_file_holds_prototypes_counts_method_digest_preprocessing_and_calibration(
    references: Path, tmp_path: Path
) -> None:
    gallery = Gallery.build(references, method="noise_residual", reference="fabricated", far=0.1)
    path = gallery.save(tmp_path / "g.safetensors")
    loaded = Gallery.load(path)
    method = fitted_method(MethodSpec("noise_residual", {}, 0, "fabricated"))
    assert loaded.weights_digest == method.method_key() == gallery.weights_digest
    assert loaded.spec.name == "noise_residual" and loaded.generators == gallery.generators
    assert loaded.counts == {g: 60 for g in fabricated.fabricated_split("unseen_all").generator_ids}
    assert loaded.preprocessing == gallery.preprocessing and loaded.preprocessing.resolution == 32
    assert torch.equal(loaded.prototypes, gallery.prototypes) and loaded.prototypes.shape == (4, 3 * 32 * 32)
    assert loaded.calibration == gallery.calibration and loaded.calibration.far == 0.1
    assert loaded.calibration.estimated_far <= 0.1
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as opened:  # one file: tensors + JSON header
        header = json.loads(opened.metadata()["modelprint_gallery"])
        assert set(opened.keys()) == {"embeddings", "labels", "prototypes"}
    assert header["method"]["name"] == "noise_residual" and len(header["files"]) == 240


def test_far_threshold_accepts_at_most_the_rate_weighting_generators_equally() -> None:
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    weights = torch.full((10,), 0.1)
    assert far_threshold(scores, weights, 0.25) == (pytest.approx(0.8), pytest.approx(0.2))
    assert far_threshold(scores, weights, 0.05)[0] > 0.9  # even the top score is too many: none
    # a generator of one image weighs as much as one of nine: its score alone is half the rate
    weights = torch.tensor([0.5] + [0.5 / 9] * 9, dtype=torch.float64)
    assert far_threshold(scores, weights, 0.5) == (pytest.approx(0.9), pytest.approx(0.5))


def test_a_generator_with_too_few_references_is_one_line_naming_it_and_the_minimum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fabricated_folder(tmp_path / "refs", rows={0: list(range(0, 6)), 1: list(range(60, 63))})
    out = tmp_path / "g.safetensors"
    err = one_line_error(["gallery", "build", f"--references={folder}", f"--out={out}", *QUICK], capsys)
    assert "unseen_architecture-5-7" in err and "3 reference images" in err and "at least 5" in err
    assert not out.exists()


def test_attribute_cli_formats_bad_files_and_exit_status(
    references: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gallery = tmp_path / "g.safetensors"
    assert main(["gallery", "build", f"--references={references}", f"--out={gallery}", *QUICK]) == 0
    assert "unknown threshold" in capsys.readouterr().out
    queries = tmp_path / "queries"
    data = fabricated.fabricated_split("unseen_all")
    truth = {
        write_png(data.images[r], queries / f"q{r:03d}.png"): data.generator_ids[int(data.labels[r])]
        for r in (0, 70, 130, 200)
    }
    (queries / "broken.png").write_bytes(b"not an image")
    assert main(["attribute", str(queries), f"--gallery={gallery}", "--format=json", "--top=2"]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["path"] for r in rows] == sorted(truth)  # the good files, in order, the bad one left out
    assert all(r["decision"] == truth[r["path"]] and len(r["candidates"]) == 2 for r in rows)
    assert all(
        r["margin"]
        == pytest.approx(r["candidates"][0]["similarity"] - r["candidates"][1]["similarity"], abs=1e-5)
        for r in rows
    )
    assert (
        "broken.png: cannot decode image" in captured.err
        and "4 attributed" in captured.err
        and "1 failed" in captured.err
    )
    # a glob of good files only: exit 0, CSV with a header, --out; a high --threshold says unknown
    out = tmp_path / "answers.csv"
    assert (
        main(
            [
                "attribute",
                str(queries / "q*.png"),
                f"--gallery={gallery}",
                "--format=csv",
                f"--out={out}",
                "--threshold=0.99",
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].startswith("path,decision,margin,generator_1,similarity_1") and len(lines) == 5
    assert all(line.split(",")[1] == UNKNOWN for line in lines[1:])
    # a list on stdin ("-") and the table format
    import io

    stdin = io.StringIO("\n".join(sorted(truth)[:2]) + "\n")
    monkey = pytest.MonkeyPatch()
    monkey.setattr("sys.stdin", stdin)
    try:
        assert main(["attribute", "-", f"--gallery={gallery}"]) == 0
    finally:
        monkey.undo()
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("decision") and len(table) == 3 and sorted(truth)[1] in table[2]
    # several paths as the shell passes an expanded glob, a flag's value given as the next word
    two = sorted(truth)[:2]
    assert main(["attribute", *two, "--gallery", str(gallery), "--format=json"]) == 0
    assert [json.loads(line)["path"] for line in capsys.readouterr().out.splitlines()] == two


HOSTILE_QUERY = "q<script>alert(1)</script>'&.png"


def html_report_of(references: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A report over four fabricated queries, one of them under a hostile file name."""
    gallery = tmp_path / "g.safetensors"
    assert main(["gallery", "build", f"--references={references}", f"--out={gallery}", *QUICK]) == 0
    data = fabricated.fabricated_split("unseen_all")
    queries = tmp_path / "queries"
    names = ["q000.png", "q070.png", "q130.png", HOSTILE_QUERY]
    truth = {
        write_png(data.images[r], queries / name): data.generator_ids[int(data.labels[r])]
        for r, name in zip((0, 70, 130, 200), names, strict=True)
    }
    report = tmp_path / "report.html"
    assert main(["attribute", str(queries), f"--gallery={gallery}", "--format=html", f"--out={report}"]) == 0
    return report, truth


def test_the_html_report_shows_each_query_beside_its_candidates_escaped(
    references: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, truth = html_report_of(references, tmp_path)
    assert "4 attributed" in capsys.readouterr().err
    page = report.read_text()
    assert (
        page.startswith("<!doctype html>") and "http" not in page.split("<body>", 1)[1].split("<script>")[0]
    )
    rows = re.findall(r"<tr data-decision='([^']*)'>(.*?)</tr>", page, re.S)
    assert sorted(d for d, _ in rows) == sorted(truth.values())  # the noise residual names them all
    for decision, row in rows:
        # the query's thumbnail, then three candidates, each with a reference thumbnail and a bar
        assert row.count("src='data:image/png;base64,") == 1 and row.count("class='bar'") == 3
        assert len(re.findall(r"class='thumb ref-\d+' role='img'", row)) == 3
        assert f"<strong>{decision}</strong>" in row
    assert "<script>alert" not in page and "q&lt;script&gt;alert(1)&lt;/script&gt;&#x27;&amp;.png" in page
    rules = re.findall(r"\.(ref-\d+)\{background-image:url\(data:image/png;base64,", page)
    assert len(rules) == len(set(rules)) and set(re.findall(r"thumb (ref-\d+)", page)) <= set(rules)
    assert "data-filter-by='decision'" in page and "button type='button' class='sort'" in page


def test_a_gallery_of_other_weights_is_refused_in_one_line(
    references: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = Gallery.build(references, method="noise_residual", reference="fabricated")
    other = Gallery(
        built.spec,
        "other-weights",
        built.preprocessing,
        built.generators,
        built.embeddings,
        built.labels,
        built.files,
    )
    path = other.save(tmp_path / "other.safetensors")
    err = one_line_error(["attribute", str(references), f"--gallery={path}"], capsys)
    assert "other-weights" in err and built.weights_digest in err and "rebuild" in err
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    err = one_line_error(["attribute", str(references), f"--gallery={tmp_path / 'junk.safetensors'}"], capsys)
    assert "not a modelprint gallery" in err


def test_gallery_add_embeds_only_new_files(
    references: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fabricated_folder(tmp_path / "first", rows={0: list(range(0, 10)), 1: list(range(60, 70))})
    gallery = Gallery.build(first, method="noise_residual", reference="fabricated")
    import benchmarks.attribution.gallery as module

    embedded: list[int] = []
    real = module.embed_files
    monkeypatch.setattr(
        module,
        "embed_files",
        lambda m, paths, *a, **k: (embedded.append(len(paths)), real(m, paths, *a, **k))[1],
    )
    more = fabricated_folder(tmp_path / "more", rows={1: list(range(70, 75)), 2: list(range(120, 128))})
    grown = gallery.add(more)
    assert embedded == [13] and grown.counts == {
        **gallery.counts,
        "unseen_architecture-5-7": 15,
        "unseen_dataset-6-2": 8,
    }
    assert torch.equal(grown.embeddings[:10], gallery.embeddings[:10])
    again = grown.add(more)  # the same images again: nothing embedded, nothing counted twice
    assert embedded == [13, 0] and again.counts == grown.counts


def zero_shot_split(test: Features, gallery_per_model: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The references and queries of the protocol's first episode (every generator): its own
    draw, repeated, so the gallery holds exactly the protocol's references."""
    gen = generator_for("zero-shot", seed, 0)
    generators = test.labels.unique()
    chosen = generators[torch.randperm(len(generators), generator=gen)]
    references, queries = [], []
    for g in chosen.tolist():
        members = (test.labels == g).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        references.append(members[:gallery_per_model])
        queries.append(members[gallery_per_model:])
    return torch.cat(references), torch.cat(queries)


# two references a generator, so that the figure has errors in it and agreement says something
# (standardised: 3 of 232 queries wrong); whitened (the YAML's choice, fitted on the reference's
# known generators) tells the fabricated generators apart without error, so there agreement
# checks that the gallery whitens as the protocol does
@pytest.mark.parametrize(("embedding", "k", "errors"), [("standardised", 2, True), ("whitened", 2, False)])
def test_gallery_reproduces_the_zero_shot_identification_accuracy(
    tmp_path: Path, embedding: str, k: int, errors: bool
) -> None:
    seed = 0
    spec = MethodSpec("synthetic_fingerprint", {"zero_shot_embedding": embedding}, seed, "fabricated")
    method = fitted_method(spec)
    splits = {name: fabricated.fabricated_split(name) for name in ("unseen_all", "known_val")}
    features = {
        name: Features(name, extract(method, split, 64), split.labels, split.generator_ids)
        for name, split in splits.items()
    }
    protocol = ZeroShotProtocol(
        gallery_per_model=k, episodes=1, pairs_per_episode=50, validation_pairs=50, bootstrap_samples=10
    )
    (result,) = protocol.evaluate(method, features, seed)
    expected = next(f.value for f in result.figures if f.metric == "identification_accuracy")
    test = splits["unseen_all"]
    refs, queries = zero_shot_split(features["unseen_all"], k, seed)
    for row in refs.tolist():
        write_png(
            test.images[row], tmp_path / "refs" / test.generator_ids[int(test.labels[row])] / f"{row:04d}.png"
        )
    paths = [write_png(test.images[row], tmp_path / "queries" / f"{row:04d}.png") for row in queries.tolist()]
    gallery = Gallery.build(
        tmp_path / "refs",
        method="synthetic_fingerprint",
        method_args=spec.args,
        reference="fabricated",
        min_references=k,
    )
    answers = gallery.attribute(paths, top=1)
    truth = [test.generator_ids[int(test.labels[row])] for row in queries.tolist()]
    accuracy = sum(a.candidates[0][0] == t for a, t in zip(answers, truth, strict=True)) / len(truth)
    print(f"zero-shot identification {expected:.4f}, gallery {accuracy:.4f} ({len(truth)} queries)")
    assert 0.5 < expected < 1.0 if errors else expected > 0.5
    assert accuracy == pytest.approx(expected, abs=5e-4)


@pytest.mark.slow  # eight galleries of the flagship: about 20 s on two shared cores
def test_a_generator_left_out_of_the_gallery_is_called_unknown_at_about_the_calibrated_rate(
    tmp_path: Path,
) -> None:
    folder = fabricated_folder(tmp_path / "all", split="generators")
    # standardised fingerprints: whitened (the YAML's choice) or raw, two of these eight
    # generators are taken for a near-twin left in the gallery at 52-72% - held-out rate 0.156
    # whitened, 0.140 raw, 0.075 standardised (docs/attribute.md): with eight generators the
    # leave-one-generator-out calibration cannot see a twin it never held out
    full = Gallery.build(
        folder,
        method="synthetic_fingerprint",
        method_args={"zero_shot_embedding": "standardised"},
        reference="fabricated",
        far=0.05,
    )
    accepted = []
    for generator in full.generators:
        answers = full.without(generator).attribute(sorted(str(p) for p in (folder / generator).iterdir()))
        accepted.append(sum(a.decision != UNKNOWN for a in answers) / len(answers))
    rate = sum(accepted) / len(accepted)
    print(
        f"held-out generators accepted: {rate:.3f} (per generator {accepted}); calibrated {full.calibration}"
    )
    # measured: 0.075 over 8 generators (per generator 0 to 0.23), the estimate's standard error
    # about 0.02 - a few generators make a rough rate, so "about" is within one false-accept rate
    assert abs(rate - 0.05) <= 0.05


def test_a_decoding_worker_changes_nothing_but_where_files_are_decoded(
    references: Path, tmp_path: Path
) -> None:
    from benchmarks.attribution.embedding import decoding_workers
    from core.errors import ConfigError

    gallery = Gallery.build(references, method="noise_residual", reference="fabricated")
    data = fabricated.fabricated_split("unseen_all")
    files = [write_png(data.images[r], tmp_path / "q" / f"{r:03d}.png") for r in range(0, 200, 10)]
    broken = tmp_path / "q" / "broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    paths = [*files[:7], str(broken), *files[7:]]
    alone = gallery.attribute(paths, batch_size=4, num_workers=0)
    beside = gallery.attribute(paths, batch_size=4, num_workers=1)
    assert [a.path for a in beside] == paths and beside == alone
    assert beside[7].error and not any(a.error for a in beside[:7] + beside[8:])
    # by default a worker only where there are several batches to overlap
    assert decoding_workers(None, 10, 64) == 0 and decoding_workers(2, 10, 64) == 2
    assert decoding_workers(None, 4 * 64, 64) == (1 if (os.cpu_count() or 1) > 1 else 0)
    with pytest.raises(ConfigError, match="num_workers must be at least 0"):
        decoding_workers(-1, 10, 64)
