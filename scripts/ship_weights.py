"""Copy trained methods' run directories from a benchmark run's cache into the suite's shipped
weights (``lightning_modules/shipped_weights/<kind>/<key>/``), each with the recorded runs that
used it: the weights (safetensors), the run's config and training summary, and
``provenance.json`` - method, seed, data hash, git revision and run ids from the results store.

    MODELPRINT_CACHE=/tmp/c MODELPRINT_RESULTS=/tmp/r.sqlite modelprint run --methods=[pose] ...
    python scripts/ship_weights.py /tmp/c /tmp/r.sqlite

Only directories some recorded run used are shipped (matched by the weights' digest).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from core.hashing import file_digest
from leaderboards.store import ResultsStore
from lightning_modules.real_training import CACHED_WEIGHTS, SHIPPED_WEIGHTS
from lightning_modules.synthetic_fingerprint.training import WEIGHTS_FILE

KINDS = ("pose", "supervised-cnn", "extractors-real")
RUN_FIELDS = ("run_id", "method", "protocol", "split", "seed", "data_hash", "git_sha")
KEPT = (CACHED_WEIGHTS, WEIGHTS_FILE, "summary.json", "config.yaml")


def main(cache: Path, store_path: Path) -> int:
    store = ResultsStore(store_path, readonly=True)
    by_digest: dict[str, list[dict]] = {}
    for run in store.runs():
        weights = json.loads(run["details_json"]).get("extractor", {}).get("weights")
        if weights:
            by_digest.setdefault(weights, []).append(run)
    total = 0
    for kind in KINDS:
        for directory in sorted((cache / kind).glob("*")):
            files = [directory / name for name in KEPT if (directory / name).is_file()]
            weights = next((f for f in files if f.suffix == ".safetensors"), None)
            runs = by_digest.get(file_digest(weights), []) if weights else []
            if not runs or not (directory / "summary.json").is_file():
                continue
            target = SHIPPED_WEIGHTS / kind / directory.name
            target.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copy2(file, target / file.name)
            provenance = {
                "kind": kind,
                "training_key": directory.name,
                "weights_digest": file_digest(weights),
                "runs": [{k: r[k] for k in RUN_FIELDS} for r in runs],
                "config": json.loads(runs[0]["config_json"]),
            }
            (target / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True))
            size = sum(f.stat().st_size for f in target.iterdir())
            total += size
            print(f"{kind}/{directory.name}: {runs[0]['method']} seed {runs[0]['seed']}, {size / 1e6:.2f} MB")
    print(f"shipped weights: {total / 1e6:.2f} MB in {SHIPPED_WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
