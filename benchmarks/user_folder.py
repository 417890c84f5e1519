"""A user's own image folder end to end: about 2,000 small PNG files and a manifest written
as a user would have them (tests/pipelines/user_images.py: three sites, the middle one
unlabelled), `dvc add`ed in a fresh git + DVC repository, then `stepstone run` on a YAML
pointing at them and `stepstone score` on 100 raw images, each timed in a fresh process on
a temp MLflow store. One JSON line per seed set.

    uv run python benchmarks/user_folder.py [--images 2000] [--size 28] [--seeds 0 1 2]

Target (issue 15): `stepstone run` under 3 minutes on 2 cores.
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
from startup import timed  # benchmarks/startup.py, beside this file

from components.evaluation import summarise_seeds
from tests.pipelines.user_images import image_config, write_user_images

TARGET_S = 180.0
TIMEOUT_S = 900.0


def one_seed(images: int, size: int, seed: int, tmp: Path) -> dict:
    """Write the folder, track it with DVC, run and score; the times and test accuracy."""
    repo = tmp / f"user-{seed}"
    repo.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / f'mlflow-{seed}.db'}"}
    start = time.perf_counter()
    per_site = {"north": images // 2, "harbour": images // 4, "south": images - 3 * (images // 4)}
    manifest = write_user_images(repo / "photos", per_site=per_site, size=size, seed=seed)
    written = time.perf_counter() - start
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                 [sys.executable, "-m", "dvc", "add", "-q", "photos"]):  # fmt: skip
        subprocess.run(args, cwd=repo, check=True, capture_output=True)
    raw = image_config(manifest, name=f"user-folder-{seed}", seed=seed)
    raw["target"] = {"labelled": 0, "unlabelled": per_site["south"] // 2}
    config, summary = repo / "scenario.yaml", repo / "summary.json"
    config.write_text(yaml.safe_dump(raw))
    run_s = timed(["run", "--config", str(config), "--summary-json", str(summary)], env, TIMEOUT_S)
    result = json.loads(summary.read_text())
    chosen = result["registered_model"]["candidate"]
    incoming = repo / "incoming.csv"
    south = sorted((repo / "photos" / "images").glob("south_*.png"))[:100]
    incoming.write_text("path\n" + "\n".join(str(p) for p in south) + "\n")
    score_s = timed(
        ["score", "--model", result["model_uri"], "--input", str(incoming),
         "--output", str(repo / "scored.csv")], env, TIMEOUT_S,
    )  # fmt: skip
    return {
        "write_s": written,
        "run_s": run_s,
        "score_s": score_s,
        "accuracy": result["metrics"][chosen]["accuracy"],
        "source_accuracy": result["metrics"]["source_model"]["accuracy"],
        "candidate": chosen,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_seed(args.images, args.size, s, Path(tmp)) for s in args.seeds]

    def summary(key: str) -> dict:
        values = [r[key] for r in runs]
        return {**{k: round(v, 4) for k, v in summarise_seeds(values).items()},
                "per_seed": [round(v, 4) for v in values]}  # fmt: skip

    print(
        json.dumps(
            {
                "benchmark": "user_folder",
                "images": args.images,
                "size": [args.size, args.size],
                "seeds": args.seeds,
                "run_s": summary("run_s"),
                "score_100_s": summary("score_s"),
                "write_s": summary("write_s"),
                "accuracy_registered": summary("accuracy"),
                "accuracy_source_model": summary("source_accuracy"),
                "registered_candidates": [r["candidate"] for r in runs],
                "target_run_s": TARGET_S,
                "run_under_target_every_seed": all(r["run_s"] < TARGET_S for r in runs),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
