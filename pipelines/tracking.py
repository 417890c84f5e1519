"""MLflow plumbing: one parent run per flow run, one nested run per stage.

Run ids are passed explicitly because MLflow's active run is per thread and Prefect runs
tasks on worker threads.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from pipelines.servers import check_mlflow
from pipelines.settings import artifact_location, tracking_uri


def configure() -> MlflowClient:
    """Point MLflow (tracking and registry) at the configured store."""
    uri = tracking_uri()
    check_mlflow(uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, uri)


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created on first use."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(
        name, artifact_location=artifact_location(client.tracking_uri, name)
    )


def start_parent(client: MlflowClient, experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """Create the flow's parent run (left RUNNING) and return its id."""
    run = client.create_run(experiment_id(client, experiment), run_name=run_name, tags=tags)
    return run.info.run_id


def finish(client: MlflowClient, run_id: str, error: BaseException | None = None) -> None:
    """End a run as FINISHED, or FAILED with the error message as a tag."""
    if error is not None:
        client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:5000])
    client.set_terminated(run_id, "FAILED" if error is not None else "FINISHED")


@contextlib.contextmanager
def stage_run(
    parent_run_id: str, stage: str, tags: dict[str, str] | None = None, system_metrics: bool = False
) -> Iterator[mlflow.ActiveRun]:
    """A nested run for one stage, active in this thread; FAILED if the block raises.
    `system_metrics` samples CPU/memory (and GPU where pynvml is installed) into the run."""
    client = MlflowClient()
    parent = client.get_run(parent_run_id)
    child = client.create_run(
        parent.info.experiment_id,
        run_name=stage,
        tags={
            MLFLOW_PARENT_RUN_ID: parent_run_id,
            MLFLOW_RUN_NAME: stage,
            "stage": stage,
            **(tags or {}),
        },
    )
    with mlflow.start_run(
        run_id=child.info.run_id, nested=True, log_system_metrics=system_metrics or None
    ) as run:
        yield run


def log_history(history: list[dict[str, float]], prefix: str) -> None:
    """Per-epoch training metrics, with the epoch as the step."""
    for row in history:
        step = int(row["epoch"])
        mlflow.log_metrics({f"{prefix}_{k}": v for k, v in row.items() if k != "epoch"}, step=step)


def log_json(data: object, artifact_file: str, run_id: str | None = None) -> None:
    """A JSON artifact on the active run, or on `run_id` when given."""
    if run_id is None:
        mlflow.log_dict(data, artifact_file)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        path.write_text(json.dumps(data, indent=2, default=str))
        MlflowClient().log_artifact(
            run_id, str(path), str(Path(artifact_file).parent) if "/" in artifact_file else None
        )


@contextlib.contextmanager
def finishing(client: MlflowClient, run_id: str) -> Iterator[str]:
    """Mark `run_id` FINISHED when the block ends, or FAILED with the error if it raises."""
    try:
        yield run_id
    except BaseException as error:
        finish(client, run_id, error)
        raise
    finish(client, run_id)
