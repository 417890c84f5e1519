"""Startup benchmark: wall times of `stepstone --help`, `stepstone validate` and the default
`stepstone run`, each in a fresh process on a temp MLflow store and Prefect home, and the ratio
of the run's wall time to the sum of its stage runs' durations (from MLflow). One JSON line.

    uv run python benchmarks/startup.py [--config configs/loan_marketing.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"validate_s": 10.0, "run_to_stages_ratio": 1.5}  # issue 19, on 2 cores


def command() -> list[str]:
    """The installed `stepstone` entry point next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("stepstone")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]


def timed(args: list[str], env: dict[str, str], timeout: float) -> float:
    """Seconds `stepstone ARGS` took in a fresh process; fails loudly with its output."""
    start = time.perf_counter()
    done = subprocess.run(
        [*command(), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"stepstone {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return seconds


def stage_seconds(tracking_uri: str, parent_run_id: str) -> dict[str, float]:
    """Each nested stage run's duration (end - start) under the parent run, by stage name."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'"
    )
    return {
        run.data.tags.get("stage", run.info.run_name): (run.info.end_time - run.info.start_time)
        / 1000
        for run in children
        if run.info.end_time
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/loan_marketing.yaml")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="stepstone-startup-"))
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_API", "MLFLOW_TRACKING"))
        },
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "true",
        "GX_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    try:
        help_s = timed(["--help"], env, 120)
        validate_s = timed(["validate", "--config", args.config], env, 300)
        summary = home / "summary.json"
        run_s = timed(["run", "--summary-json", str(summary)], env, args.timeout)
        parent = json.loads(summary.read_text())["parent_run_id"]
        stages = stage_seconds(tracking_uri, parent)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    total = sum(stages.values())
    result = {
        "benchmark": "startup",
        "cores": os.cpu_count(),
        "help_s": round(help_s, 2),
        "validate_s": round(validate_s, 2),
        "run_s": round(run_s, 2),
        "stage_sum_s": round(total, 2),
        "run_to_stages_ratio": round(run_s / total, 2) if total else None,
        "stages_s": {k: round(v, 2) for k, v in sorted(stages.items())},
        "targets": TARGETS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
