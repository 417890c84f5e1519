"""Scale-out: the whole pipeline over several scenarios x seeds, as concurrent Prefect tasks
on a Dask cluster (prefect-dask) or, with `dask_workers=0`, on local threads.

Each task runs the stepstone flow as a nested flow run, so every run keeps its own MLflow
parent run, stages and registered version. Use an MLflow server (MLFLOW_TRACKING_URI=http://...)
when runs write concurrently; a sqlite file is for one process at a time.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from components.evaluation import summarise_seeds
from pipelines.flow import stepstone
from pipelines.runners import dask_runner


def task_runner(dask_workers: int) -> DaskTaskRunner | ThreadPoolTaskRunner:
    """A local Dask cluster with `dask_workers` single-threaded worker processes, or one thread."""
    return dask_runner(dask_workers) if dask_workers > 0 else ThreadPoolTaskRunner(max_workers=1)


@task(name="run_scenario")
def run_scenario(config_path: str | None, seed: int) -> dict:
    """One pipeline run; return its identifiers and the test metric (the modality's: AUC,
    accuracy) of the registered model and of the transfer arm (small things only)."""
    summary = stepstone(config_path=config_path, overrides={"seed": seed})
    metric, metrics = summary["metric"], summary["metrics"]
    return {
        "config_path": config_path,
        "seed": seed,
        "parent_run_id": summary["parent_run_id"],
        "model_uri": summary["model_uri"],
        "metric": metric,
        "registered": metrics[summary["registered_model"]["candidate"]][metric],
        "transfer": metrics["transfer"][metric],
    }


@flow(name="stepstone-runs")
def _runs(config_paths: list[str | None], seeds: list[int]) -> list[dict]:
    futures = [run_scenario.submit(c, s) for c in config_paths for s in seeds]
    return [f.result() for f in futures]


@flow(name="stepstone-multi-run", log_prints=True)
def multi_run(
    config_paths: list[str] | None = None, seeds: list[int] | None = None, dask_workers: int = 0
) -> dict:
    """Run every scenario in `config_paths` (default: the loan case) for every seed; report
    per scenario the mean and spread of the registered model's and the transfer arm's test
    metric."""
    configs: list[str | None] = list(config_paths) if config_paths else [None]
    runs = _runs.with_options(task_runner=task_runner(dask_workers))(configs, seeds or [0])
    report = {}
    for config in configs:
        mine = [r for r in runs if r["config_path"] == config]
        report[str(config)] = {
            "metric": mine[0]["metric"],
            **{arm: summarise_seeds([r[arm] for r in mine]) for arm in ("registered", "transfer")},
        }
    print(f"test metric per scenario over seeds {seeds or [0]}: {report}")
    return {"runs": runs, "scenarios": report}
