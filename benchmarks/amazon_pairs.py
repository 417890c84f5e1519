"""All 12 Amazon-review domain pairs through the product (issue 16): for each source -> target
among books, dvd, electronics and kitchen, the other two domains are the intermediate pool
(labels hidden), and `configs/amazon_books_kitchen.yaml` runs with its domain queries changed,
each seed a fresh `stepstone run` (by way of `image_pipeline.run_seed`). Prints one JSON line:
per pair and on average over the pairs, the source-only model's and the registered model's
target test accuracy (mean and spread over seeds), and wall times. Each pair's result also
goes to stderr as it finishes, so a long run that is stopped keeps what it measured.

    uv run python benchmarks/amazon_pairs.py [--seeds 0 1 2] [--set target.labelled=100]
        [--done stopped_run.err]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from image_pipeline import (
    override,
    run_seed,
    summarised,
)  # benchmarks/image_pipeline.py, beside this file
from machine import machine

from pipelines.config import merge

DOMAINS = ("books", "dvd", "electronics", "kitchen")
ARMS = ("source_model", "registered")


def pair_changes(source: str, target: str) -> dict:
    """The domain queries for source -> target with the other two domains as the pool."""
    pool = [d for d in DOMAINS if d not in (source, target)]
    return {
        "data": {
            "domains": {
                "source": f"domain == '{source}'",
                "intermediate": f"domain in {pool}",
                "target": f"domain == '{target}'",
            }
        }
    }


def run_pair(source: str, target: str, seeds: list[int], changes: dict) -> dict:
    """Every seed of one pair; each arm's accuracy per seed, mean and spread."""
    variant = merge(changes, pair_changes(source, target))
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_seed("amazon-reviews", seed, Path(tmp), variant) for seed in seeds]
    accuracy = {
        "source_model": [r["metrics"]["source_model"]["accuracy"] for r, _, _ in results],
        "registered": [
            r["metrics"][r["registered_model"]["candidate"]]["accuracy"] for r, _, _ in results
        ],
    }
    return {
        "pair": f"{source}->{target}",
        "accuracy": {a: [round(x, 4) for x in v] for a, v in accuracy.items()},
        "registered_candidates": [r["registered_model"]["candidate"] for r, _, _ in results],
        "wall_s_run": [round(t, 1) for _, _, t in results],
    }


def measured(path: Path) -> list[dict]:
    """The per-pair JSON lines of an earlier run's stderr."""
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"pair"')]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, key.path=value")
    parser.add_argument(
        "--done",
        type=Path,
        help="a stopped run's stderr: the pairs it measured (its JSON lines) are kept, not rerun",
    )
    args = parser.parse_args()
    changes = override(args.set)
    pairs = measured(args.done) if args.done else []
    done = {p["pair"] for p in pairs}
    for source, target in itertools.permutations(DOMAINS, 2):
        if f"{source}->{target}" in done:
            continue
        pairs.append(run_pair(source, target, args.seeds, changes))
        print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)
    # the average over the 12 pairs, one value per seed, then its mean and spread over seeds
    average = {arm: np.mean([p["accuracy"][arm] for p in pairs], axis=0).tolist() for arm in ARMS}
    print(
        json.dumps(
            {
                "benchmark": "amazon_pairs",
                "config": "amazon_books_kitchen.yaml",
                "overrides": changes,
                "seeds": args.seeds,
                "average_over_pairs": summarised(average),
                "pairs": pairs,
                "targets": {"average_accuracy": 0.86},
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
