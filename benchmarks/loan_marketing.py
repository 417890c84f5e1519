"""Loan-marketing benchmark: the registered model (the CV choice among the candidates,
made without test labels) against every candidate on the target test rows, over seeds,
each seed a fresh `stepstone run` process (imports, Prefect, DVC, GX, training, MLflow
logging and registration). Prints one JSON line.

    uv run python benchmarks/loan_marketing.py [--seeds 0 1 ... 9] [--set key=value ...]

Runs go to a temporary MLflow store, so the project's mlruns/ is untouched; `--store DIR`
keeps that store (each run's CV predictions are in its choose run's `choice/`).
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

import numpy as np
from machine import machine  # benchmarks/machine.py, beside this file

from components.evaluation import summarise_seeds

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_once(seed: int, store: Path, config: str | None, sets: list[str]) -> tuple[dict, float]:
    """One `stepstone run` in a subprocess; return its summary and wall time."""
    summary = store / f"summary-{seed}.json"
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--seed", str(seed)]
    cmd += ["--summary-json", str(summary)]
    cmd += [arg for s in sets for arg in ("--set", s)]
    if config:
        cmd += ["--config", config]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(summary.read_text()), time.perf_counter() - start


def rounded(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def against_baselines(registered: np.ndarray, auc: dict[str, np.ndarray]) -> dict:
    """The registered model's test AUC per seed (`registered`) against the issue's yardsticks:
    pooled LightGBM, target-only LR, and the best candidate in hindsight (`auc`: arm -> AUC
    per seed; the source network is not a candidate)."""
    hindsight = np.max([v for a, v in auc.items() if a != "source_model"], axis=0)
    return {
        "registered_auc": {k: round(v, 4) for k, v in summarise_seeds(registered).items()},
        "seeds_above_lgbm_pooled": int(np.sum(registered > auc["lgbm_pooled"])),
        "seeds_below_target_only": int(np.sum(registered < auc["target_only"])),
        "regret_vs_hindsight_mean": round(float(np.mean(hindsight - registered)), 4),
        "regret_per_seed": rounded(hindsight - registered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--config", help="scenario YAML (default: the loan-marketing case)")
    parser.add_argument("--set", action="append", default=[], help="config override k=v")
    parser.add_argument("--store", type=Path, help="keep the MLflow store here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = (args.store or Path(tmp)).resolve()
        store.mkdir(parents=True, exist_ok=True)
        results = [run_once(seed, store, args.config, args.set) for seed in args.seeds]
    summaries = [s for s, _ in results]
    arms = sorted(set.intersection(*(set(s["metrics"]) for s in summaries)))
    auc = {arm: np.array([s["metrics"][arm]["auc"] for s in summaries]) for arm in arms}
    chosen = [s["registered_model"]["candidate"] for s in summaries]
    registered = np.array([s["metrics"][c]["auc"] for s, c in zip(summaries, chosen)])
    print(
        json.dumps(
            {
                "benchmark": "loan_marketing",
                "seeds": args.seeds,
                "overrides": args.set,
                **against_baselines(registered, auc),
                "registered_auc_per_seed": rounded(registered),
                "registered_candidate_per_seed": chosen,
                "candidate_auc": {
                    a: {k: round(v, 4) for k, v in summarise_seeds(auc[a]).items()} for a in arms
                },
                "lgbm_pooled_auc_per_seed": rounded(auc["lgbm_pooled"]),
                "target_only_auc_per_seed": rounded(auc["target_only"]),
                "promoted_per_seed": [s["registered_model"]["promoted"] for s in summaries],
                "per_seed": [
                    {
                        "chosen": c,
                        "reason": s["choice"]["reason"],
                        "cv": s["cv"],
                        "test": {a: round(s["metrics"][a]["auc"], 4) for a in arms},
                    }
                    for s, c in zip(summaries, chosen)
                ],
                "wall_s_per_run": [round(t, 1) for _, t in results],
                "wall_s_max": round(max(t for _, t in results), 1),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
