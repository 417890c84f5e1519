"""Resuming a killed run: `stepstone run --resume RUN_ID` finishes it, reusing what it did.

Three things make that work:

- a work folder per parent run (`run_folder`) that outlives the process: the splits, the
  checkpoints and the files stages hand each other. A run that ends (well, or with an error
  in the user's data or config) deletes it; a kill, a crash or a lost server leaves it;
- the stages after `load_data` are Prefect tasks cached by their source and inputs, the
  parent run id among them (`STAGE_CACHE`): run again under the same parent run, a stage
  that had finished is served from Prefect's result store (its state reads "Cached") and
  its MLflow stage run is kept;
- per-epoch checkpoints of the training loop in that folder (`components.models.resumable`):
  the stage that was killed restarts from its last finished epoch.

The resumed run is the killed parent run itself, RUNNING again, so the lineage of the model
it registers is one parent run with one stage run per stage.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from prefect.cache_policies import INPUTS, TASK_SOURCE

from components.errors import StepstoneError
from pipelines import tracking
from pipelines.settings import REPO_ROOT

RESUMED_TAG = "stepstone.resumed"


def _runs_root() -> Path:
    return Path(os.environ.get("STEPSTONE_STATE_DIR") or REPO_ROOT / ".stepstone") / "runs"


def run_folder(parent_run_id: str) -> Path:
    """The work folder of one parent run, under $STEPSTONE_STATE_DIR (default .stepstone/)."""
    return _runs_root() / parent_run_id


def discard(parent_run_id: str) -> None:
    shutil.rmtree(run_folder(parent_run_id), ignore_errors=True)


def kept_folders(client: MlflowClient) -> dict[str, int]:
    """The work folders kept for `--resume` of runs in this store that are not RUNNING (killed
    or crashed, already marked FAILED): run id -> bytes on disk. Folders of runs this store
    does not know (another store's) and of RUNNING runs are not listed."""
    root = _runs_root()
    kept = {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            status = client.get_run(folder.name).info.status
        except MlflowException:
            continue
        if status != "RUNNING":
            kept[folder.name] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return kept


# Prefect's own policies: the task's source code and its inputs. Every cached stage takes
# `parent_run_id`, so a fresh run (a new parent run id) shares nothing with another run; only
# a resumed run, under the same id, finds the stages its first process finished.
STAGE_CACHE = {"cache_policy": TASK_SOURCE + INPUTS}


def reopen(client: MlflowClient, run_id: str, config_hash: str) -> str:
    """Make the killed parent run `run_id` RUNNING again in this process, after checking that
    it can be resumed with this config; return its id."""
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise StepstoneError(
            f"--resume {run_id}: no such run in this MLflow store ({error.message.splitlines()[0]})."
            " Pass the id of a stepstone parent run (`MLflow parent run ...` in a run's output)."
        ) from None
    tags = run.data.tags
    if MLFLOW_PARENT_RUN_ID in tags or "config_hash" not in tags:
        raise StepstoneError(
            f"--resume {run_id}: not a stepstone parent run; pass a parent run id."
        )
    if run.info.status == "FINISHED":
        raise StepstoneError(f"--resume {run_id}: that run finished; there is nothing to resume.")
    if (
        run.info.status == "RUNNING"
        and tracking.orphan_reason(run, socket.gethostname(), 0) is None
    ):
        raise StepstoneError(f"--resume {run_id}: that run's process is still running.")
    if tags["config_hash"] != config_hash:
        raise StepstoneError(
            f"--resume {run_id}: the config differs from the run's (hash {config_hash}, the run "
            f"has {tags['config_hash']}); resume with the same --config, --set and --seed."
        )
    if not run_folder(run_id).is_dir():
        raise StepstoneError(
            f"--resume {run_id}: its work folder {run_folder(run_id)} is gone (the run ended or "
            "was cleaned up); start a new run instead."
        )
    client.set_tag(run_id, tracking.HOST_TAG, socket.gethostname())
    client.set_tag(run_id, tracking.PID_TAG, str(os.getpid()))
    client.set_tag(run_id, RESUMED_TAG, "true")
    client.update_run(run_id, status="RUNNING")
    return run_id
