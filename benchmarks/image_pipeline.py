"""Image and text cases through the product: per seed, `stepstone data CASE` writes the case
as files (the domain draw follows the seed; the review table is the same every seed) and
`stepstone run` runs the shipped config on them in a fresh process. Prints one JSON line: each arm's accuracy per seed, mean and spread, wall time.

    uv run python benchmarks/image_pipeline.py --case rotating-mnist --seeds 0 1 2 3 4
    uv run python benchmarks/image_pipeline.py --case digits --seeds 0 1 2
    uv run python benchmarks/image_pipeline.py --case mnist-usps --set adaptation.method=cdan
    uv run python benchmarks/image_pipeline.py --case usps-mnist --seeds 0 1 2
    uv run python benchmarks/image_pipeline.py --case amazon-reviews --seeds 0 1 2
    uv run python benchmarks/image_pipeline.py --case amazon-reviews --set target.labelled=100

Runs go to a temporary MLflow store and data folder; the project's mlruns/ is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from machine import machine  # benchmarks/machine.py, beside this file

from components.evaluation import summarise_seeds

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "digits": "digits_demo.yaml",
    "rotating-mnist": "rotating_mnist.yaml",
    "mnist-usps": "mnist_usps.yaml",
    "usps-mnist": "usps_mnist.yaml",
    "amazon-reviews": "amazon_books_kitchen.yaml",
}
DATA = {"usps-mnist": "mnist-usps"}  # the `stepstone data` case, where it is not the case's name
TABLES = {"amazon-reviews": "reviews.parquet"}  # what `stepstone data` writes (else a manifest)


def override(pairs: list[str]) -> dict:
    """`a.b=value` pairs (values parsed as YAML) as a nested mapping."""
    out: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def run_seed(case: str, seed: int, tmp: Path, changes: dict) -> tuple[dict, float, float]:
    """Prepare the case for `seed`, run it; return the summary, prepare and run wall times."""
    data, cli = tmp / f"data-{seed}", [sys.executable, "-m", "pipelines.cli"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}
    start = time.perf_counter()
    subprocess.run(
        [*cli, "data", DATA.get(case, case), "--out", str(data), "--seed", str(seed), "--no-dvc"],
        cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    prepared = time.perf_counter() - start
    path = {"path": str(data / TABLES.get(case, "manifest.csv"))}
    variant = {
        "base": str(REPO_ROOT / "configs" / CONFIGS[case]),
        **changes,
        "data": {**changes.get("data", {}), **path},
    }
    config, summary = tmp / f"config-{seed}.yaml", tmp / f"summary-{seed}.json"
    config.write_text(yaml.safe_dump(variant))
    start = time.perf_counter()
    subprocess.run(
        [*cli, "run", "--config", str(config), "--seed", str(seed), "--summary-json", str(summary)],
        cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return json.loads(summary.read_text()), prepared, time.perf_counter() - start


def summarised(per_seed: dict[str, list[float]]) -> dict:
    """Each arm's mean and spread over seeds (`summarise_seeds`) and its per-seed values."""
    return {
        arm: {
            **{k: round(x, 4) for k, x in summarise_seeds(v).items()},
            "per_seed": [round(x, 4) for x in v],
        }
        for arm, v in per_seed.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CONFIGS), default="rotating-mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, key.path=value")
    args = parser.parse_args()
    changes = override(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_seed(args.case, seed, Path(tmp), changes) for seed in args.seeds]
    arms = results[0][0]["metrics"].keys()
    per_seed = {arm: [r["metrics"][arm]["accuracy"] for r, _, _ in results] for arm in arms}
    chosen = [r["registered_model"]["candidate"] for r, _, _ in results]
    # What the product ships: the candidate each seed's run chose (without test labels).
    per_seed["registered"] = [r["metrics"][c]["accuracy"] for (r, _, _), c in zip(results, chosen)]
    print(
        json.dumps(
            {
                "benchmark": f"image_pipeline/{args.case}",
                "config": CONFIGS[args.case],
                "overrides": changes,
                "seeds": args.seeds,
                "accuracy": summarised(per_seed),
                "registered_candidates": chosen,
                "wall_s_prepare": [round(p, 1) for _, p, _ in results],
                "wall_s_run": [round(t, 1) for _, _, t in results],
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
