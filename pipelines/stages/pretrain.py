"""Stage 2: train the source model on the abundant source domain and log it.

The task is cached (pipelines/cache.py): on unchanged source data, config and code, a
retrain reuses the earlier source run. Downstream stages therefore fetch the checkpoint
from that MLflow run by run id and artifact path, never from another run's temp folder.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from prefect import task

from components.models import checkpoint, resumable
from components.models.loop import fit
from components.models.training import resolve_device, seed_everything
from pipelines.cache import SourceCachePolicy, source_digest
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import labelled_rows, read_split, read_splits
from pipelines.tracking import log_history, stage_run

CHECKPOINT_ARTIFACT = "checkpoint/source.pt"


def encoder_inputs(config: PipelineConfig, workdir: str) -> pd.DataFrame | None:
    """The non-test rows of the other domains, for an encoder that learns from their inputs
    (config.modality_impl().encoder_learns_inputs); None otherwise."""
    if not config.modality_impl().encoder_learns_inputs:
        return None
    parts = read_splits(workdir, "intermediate", "target_labelled", "target_unlabelled")
    return pd.concat(parts, ignore_index=True)


@task(
    name="pretrain_source",
    cache_policy=SourceCachePolicy(),
    result_serializer="json",
    **STAGE_RETRIES,
)
def pretrain_source(
    config: PipelineConfig, workdir: str, parent_run_id: str, source_digest: str
) -> dict:
    """Fit the input encoder (on the source rows, and on the other domains' non-test inputs
    when it learns from them) and the network on the source rows (class-balanced); return
    the MLflow run id, the checkpoint's artifact path in that run and the logged model's URI."""
    source = read_split(workdir, "source")
    with stage_run(
        parent_run_id, "pretrain_source", {"source_digest": source_digest}, system_metrics=True
    ) as run:
        modality = config.modality_impl()
        mlflow.log_input(
            mlflow.data.from_pandas(source, name="source", targets=modality.label_column),
            context="training",
        )
        mlflow.log_params({"model": config.model.model_dump_json(), **config.pretrain.model_dump()})
        encoder = modality.fit_encoder(source, encoder_inputs(config, workdir))
        seed_everything(config.seed)  # the initial weights depend on the seed too
        model = modality.build_model(encoder, config.seed)
        data = labelled_rows(modality, encoder, source)
        with resumable.epoch_checkpoints(Path(workdir) / "epochs", "pretrain"):
            history = fit(
                model,
                data,
                config.pretrain,
                seed=config.seed,
                device=resolve_device(config.device),
                desc="pretrain",
            )
        log_history(history, "pretrain")
        path = checkpoint.save(Path(workdir) / Path(CHECKPOINT_ARTIFACT).name, model.cpu(), encoder)
        mlflow.log_artifact(str(path), str(Path(CHECKPOINT_ARTIFACT).parent))
        info = log_scorer(path, source)
        return {
            "run_id": run.info.run_id,
            "checkpoint_artifact": CHECKPOINT_ARTIFACT,
            "model_uri": info.model_uri,
        }


def fetch_checkpoint(source: dict, workdir: str) -> str:
    """Download the source checkpoint of run `source['run_id']` into `workdir`."""
    return mlflow.artifacts.download_artifacts(
        run_id=source["run_id"], artifact_path=source["checkpoint_artifact"], dst_path=workdir
    )


def _usable(source: dict, workdir: str) -> str | None:
    """The local checkpoint of a (cached) source run, or None when the run is gone or unfinished."""
    try:
        if MlflowClient().get_run(source["run_id"]).info.status != "FINISHED":
            return None
        return fetch_checkpoint(source, workdir)
    except (MlflowException, OSError):
        return None


def source_model(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Run `pretrain_source` (served from the cache when its key matches) and fetch its
    checkpoint; a cache entry whose MLflow run no longer exists is retrained.

    Returns the task result plus `checkpoint` (a local path) and `cached` (bool)."""
    digest = source_digest(config, read_split(workdir, "source"), encoder_inputs(config, workdir))
    state = pretrain_source(config, workdir, parent_run_id, digest, return_state=True)
    source, cached = state.result(), state.name == "Cached"
    local = _usable(source, workdir)
    if local is None:
        refresh = pretrain_source.with_options(refresh_cache=True)
        source, cached = refresh(config, workdir, parent_run_id, digest), False
        local = fetch_checkpoint(source, workdir)
    return {**source, "checkpoint": local, "cached": cached, "source_digest": digest}
