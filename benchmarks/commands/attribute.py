"""``modelprint attribute``: which of a gallery's generators made each image, or none."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from benchmarks.cli import UsageError, command


@command("attribute", variadic=True)
def attribute(
    paths: str | list[str],
    gallery: str | None = None,
    top: int = 3,
    format: str = "table",
    out: str | None = None,
    threshold: float | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    progress: bool | None = None,
) -> int:
    """Attribute images with a gallery (``modelprint gallery build``): per image the top
    generators with cosine similarity, the decision (a generator or ``unknown``) and the margin,
    written as each batch is done. A file that cannot be read is one line on stderr and the
    others go on; the exit status is 1 if any failed.

    Args:
        paths: files, folders or globs (``a.png dir/ 'shots/*.jpg'``, or as a list
            ``[a.png, dir/]``); ``-`` reads one path a line from stdin.
        gallery: the gallery file.
        top: how many candidates each answer lists.
        format: ``table``, ``json`` (one JSON object a line), ``csv`` or ``html`` (a page with
            thumbnails of each query and of its candidates' references; best with ``--out``).
        out: write the answers here instead of stdout.
        threshold: accept the top generator from this cosine similarity (default: the
            gallery's calibrated threshold).
        batch_size: images per batch.
        num_workers: DataLoader processes decoding images (default: one when there are at
            least four batches and more than one CPU, so decoding overlaps the method).
        progress: show a progress bar on stderr (default: when stderr is a terminal).
    """
    from benchmarks.attribution import Gallery
    from benchmarks.attribution.embedding import expand_paths
    from benchmarks.attribution.output import AnswerWriter

    if not gallery:
        raise UsageError("--gallery is required, e.g. --gallery=refs.gallery.safetensors")
    files, unmatched = expand_paths([paths] if isinstance(paths, str) else paths)
    for pattern in unmatched:
        print(f"modelprint attribute: {pattern}: no images match", file=sys.stderr)
    loaded = Gallery.load(gallery)
    stream = open(out, "w", encoding="utf-8", newline="") if out else sys.stdout  # noqa: SIM115
    decisions: Counter[str] = Counter()
    failed = len(unmatched)
    try:
        limit = loaded.calibration.threshold if threshold is None else threshold
        writer = AnswerWriter(stream, format, top, loaded.first_references(), limit)

        def report(batch: list) -> None:
            nonlocal failed
            for result in batch:
                if result.error is not None:
                    failed += 1
                    print(f"modelprint attribute: {' '.join(result.error.split())}", file=sys.stderr)
                else:
                    decisions[result.decision] += 1
            writer.write([r for r in batch if r.error is None])

        loaded.attribute(
            files,
            top=top,
            threshold=threshold,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=sys.stderr.isatty() if progress is None else progress,
            on_batch=report,
        )
        writer.close()
    finally:
        if out:
            stream.close()
    summary = ", ".join(f"{name} {count}" for name, count in decisions.most_common())
    where = f"; written to {Path(out)}" if out else ""
    attributed = sum(decisions.values())
    print(
        f"modelprint attribute: {attributed} attributed ({summary or 'none'}), {failed} failed{where}",
        file=sys.stderr,
    )
    return 1 if failed else 0
