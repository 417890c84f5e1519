"""Stage 2: train the source model on the abundant source domain and log it."""

from __future__ import annotations

from pathlib import Path

import mlflow
from prefect import task

from components.data.preprocess import TabularPreprocessor, encode_labels
from components.models import checkpoint
from components.models.tabular_mlp import TabularMLP
from components.models.training import Labelled, fit, resolve_device, seed_everything
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.stages.workspace import read_split
from pipelines.tracking import log_history, stage_run


@task(name="pretrain_source")
def pretrain_source(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Fit preprocessing and the MLP on source rows only (class-balanced); return where the
    checkpoint is and the logged model's URI."""
    source = read_split(workdir, "source")
    with stage_run(parent_run_id, "pretrain_source") as run:
        mlflow.log_input(
            mlflow.data.from_pandas(source, name="source", targets=config.schema.label.column),
            context="training",
        )
        mlflow.log_params({"model": config.model.model_dump_json(), **config.pretrain.model_dump()})
        preprocessor = TabularPreprocessor.fit(source, config.schema)
        seed_everything(config.seed)  # the initial weights depend on the seed too
        model = TabularMLP(preprocessor.cardinalities, len(preprocessor.means), config.model)
        data = Labelled.of(
            preprocessor.transform(source), encode_labels(source, config.schema), balance=True
        )
        history = fit(
            model, data, config.pretrain, seed=config.seed, device=resolve_device(config.device)
        )
        log_history(history, "pretrain")
        path = checkpoint.save(Path(workdir) / "source.pt", model.cpu(), preprocessor)
        info = log_scorer(path, source)
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}
