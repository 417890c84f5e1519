"""Loan-marketing benchmark: every arm's AUC and lift over seeds, and the wall time of the
whole default run (`stepstone run` as a fresh process: imports, Prefect, DVC, GX, training,
MLflow logging and registration). Prints one JSON line.

    uv run python benchmarks/loan_marketing.py [--seeds 0 1 2 3 4]

Runs go to a temporary MLflow store, so the project's mlruns/ is untouched.
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

from components.evaluation import summarise_seeds

REPO_ROOT = Path(__file__).resolve().parent.parent
METRICS = ("auc", "pr_auc", "lift_top10", "lift_top20", "log_loss")


def run_once(seed: int, store: Path, config: str | None) -> tuple[dict, float]:
    """One `stepstone run` in a subprocess; return its summary and wall time."""
    summary = store / f"summary-{seed}.json"
    cmd = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "run",
        "--seed",
        str(seed),
        "--summary-json",
        str(summary),
    ]
    if config:
        cmd += ["--config", config]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(summary.read_text()), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--config", help="scenario YAML (default: the loan-marketing case)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_once(seed, Path(tmp), args.config) for seed in args.seeds]
    arms = results[0][0]["metrics"].keys()
    per_seed = {
        arm: {m: [r["metrics"][arm][m] for r, _ in results] for m in METRICS} for arm in arms
    }
    wins = [
        r["metrics"]["transfer"]["auc"] > r["metrics"]["target_only"]["auc"] for r, _ in results
    ]
    print(
        json.dumps(
            {
                "benchmark": "loan_marketing",
                "seeds": args.seeds,
                "arms": {
                    arm: {
                        m: {k: round(x, 4) for k, x in summarise_seeds(v).items()}
                        for m, v in ms.items()
                    }
                    for arm, ms in per_seed.items()
                },
                "transfer_auc_per_seed": [round(x, 4) for x in per_seed["transfer"]["auc"]],
                "target_only_auc_per_seed": [round(x, 4) for x in per_seed["target_only"]["auc"]],
                "transfer_beats_target_only_every_seed": all(wins),
                "wall_s_per_run": [round(t, 1) for _, t in results],
                "wall_s_max": round(max(t for _, t in results), 1),
                "machine": {"cpus": os.cpu_count()},
            }
        )
    )


if __name__ == "__main__":
    main()
