"""MLflow plumbing: one parent run per flow run, one nested run per stage.

Run ids are passed explicitly because MLflow's active run is per thread and Prefect runs
tasks on worker threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from pipelines.servers import check_mlflow
from pipelines.settings import artifact_location, tracking_uri


def configure() -> MlflowClient:
    """Point MLflow (tracking and registry) at the configured store."""
    uri = tracking_uri()
    check_mlflow(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri.startswith("sqlite:///"):
        return initialise_store(uri, Path(uri.removeprefix("sqlite:///")))
    return MlflowClient(uri, uri)


def initialise_store(uri: str, db_path: Path) -> MlflowClient:
    """Open a local sqlite store, creating (or migrating) it under an exclusive lock on a file
    next to the database, and return a client on it. MLflow builds and migrates the schema the
    first time a process opens a store (`MlflowClient(...)` does so at once); on a fresh file
    two processes doing that together collide (`duplicate column name: step`, alembic
    "expected to match one row"). Under the lock the first process migrates and the others
    find the tables ready. A tracking server needs none of this: it owns its database."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(db_path.with_name(db_path.name + ".lock")):
        client = MlflowClient(uri, uri)  # opens (and on a fresh file creates) the tracking store
        client.search_registered_models(max_results=1)  # ... and the registry store
        return client


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created) for the block; other processes wait."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def promotion_lock(client: MlflowClient, model_name: str) -> contextlib.AbstractContextManager:
    """One promotion of `model_name` at a time: reading the champion, beating it and moving
    the alias happen under this lock, so overlapping runs cannot both replace the same champion
    (the alias ends on a version that beat the one it replaced). The lock is a file next to a
    sqlite store, or in the temp folder for a server store: it covers every run on this host,
    not runs on other hosts against the same server."""
    uri = client.tracking_uri
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
    else:
        folder = Path(tempfile.gettempdir()) / "stepstone-locks"
        folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(f"{uri}|{model_name}".encode()).hexdigest()[:16]
    return _file_lock(folder / f"promote-{digest}.lock")


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created on first use."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(
            name, artifact_location=artifact_location(client.tracking_uri, name)
        )
    except MlflowException as error:  # another process created it in between
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        del error
        return found.experiment_id


def start_parent(client: MlflowClient, experiment: str, run_name: str, tags: dict[str, str]) -> str:
    """Create the flow's parent run (left RUNNING) and return its id. The run is tagged with
    this host and process id, so `mark_orphans` can tell a run whose process is gone."""
    tags = {**tags, HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    run = client.create_run(experiment_id(client, experiment), run_name=run_name, tags=tags)
    return run.info.run_id


HOST_TAG = "stepstone.host"
PID_TAG = "stepstone.pid"
FAILURE_TAG = "stepstone.failure"
STALE_HOURS = 24.0  # an untagged RUNNING parent older than this is taken as orphaned


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _running_runs(client: MlflowClient) -> list:
    experiments = [
        e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    ]
    runs = []
    for start in range(0, len(experiments), 100):  # search_runs takes at most 100 experiments
        chunk, token = experiments[start : start + 100], None
        while True:
            page = client.search_runs(
                chunk, "attributes.status = 'RUNNING'", max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
    return runs


def orphan_reason(run, host: str, now_ms: int, stale_hours: float = STALE_HOURS) -> str | None:
    """Why a RUNNING parent run is an orphan, or None if its process may still be working."""
    tags = run.data.tags
    run_host, pid = tags.get(HOST_TAG), tags.get(PID_TAG)
    if run_host is None or pid is None:
        age_h = (now_ms - (run.info.start_time or now_ms)) / 3_600_000
        if age_h > stale_hours:
            return (
                f"run has no {HOST_TAG}/{PID_TAG} tags and has been RUNNING for {age_h:.1f} h "
                f"(> {stale_hours:g} h); marked FAILED by `stepstone runs clean`"
            )
        return None
    if run_host != host or not pid.isdigit():
        return None  # another machine's process: only that machine can tell
    if _alive(int(pid)):
        return None
    return f"process {pid} on host {host} is gone; marked FAILED by `stepstone runs clean`"


def mark_orphans(client: MlflowClient, stale_hours: float = STALE_HOURS) -> list[str]:
    """Set every orphaned RUNNING parent run (all experiments) FAILED with a `stepstone.failure`
    tag saying why, together with its RUNNING stage runs; return the ids marked.

    An orphan is a parent run started on this host whose process no longer exists (killed with
    SIGKILL, or the machine rebooted), or an untagged one RUNNING for over `stale_hours`.
    A run on another host is left to that host. Call at the start of every flow."""
    host, now_ms = socket.gethostname(), int(time.time() * 1000)
    running = _running_runs(client)
    children: dict[str, list] = {}
    for run in running:
        parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
        if parent:
            children.setdefault(parent, []).append(run)
    marked: list[str] = []
    for run in running:
        if MLFLOW_PARENT_RUN_ID in run.data.tags:
            continue
        reason = orphan_reason(run, host, now_ms, stale_hours)
        if reason is None:
            continue
        stack = [run]
        while stack:  # the parent and its RUNNING descendants
            current = stack.pop()
            rid = current.info.run_id
            why = reason if rid == run.info.run_id else f"parent run {run.info.run_id}: {reason}"
            client.set_tag(rid, FAILURE_TAG, why)
            client.set_terminated(rid, "FAILED")
            marked.append(rid)
            stack.extend(children.get(rid, []))
    return marked


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
