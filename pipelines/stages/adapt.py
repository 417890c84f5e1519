"""Stage 4: adapt the source model to the target with the selected pool rows."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from prefect import task

from components.adaptation import adapt
from components.data.preprocess import encode_labels
from components.models import checkpoint
from components.models.training import Labelled, embed, resolve_device
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.stages.select import log_after_adaptation
from pipelines.stages.transit import as_step_history, ordered_pool, transit_adapt
from pipelines.stages.workspace import read_splits
from pipelines.tracking import log_history, stage_run


@task(name="adapt_target")
def adapt_target(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    selection: str,
    selection_run_id: str,
) -> dict:
    """Train from the source weights on labelled target rows plus labelled selected pool rows;
    log the adapted model as a raw-row pyfunc."""
    source_model, preprocessor = checkpoint.load(source_checkpoint)
    device = resolve_device(config.device)
    source_model.to(device)
    source, whole_pool, target, unlabelled = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled"
    )
    table = pd.read_parquet(selection)
    chosen = table.query("selected")["row_id"]
    selected = whole_pool["row_id"].isin(chosen).to_numpy()
    pool = whole_pool[selected]
    label = config.schema.label.column
    with stage_run(parent_run_id, "adapt_target", system_metrics=True) as run:
        mlflow.log_input(
            mlflow.data.from_pandas(target, name="target_labelled", targets=label),
            context="training",
        )
        pool_labelled = label in pool.columns and len(pool) > 0
        if pool_labelled:
            mlflow.log_input(
                mlflow.data.from_pandas(pool, name="intermediate_selected", targets=label),
                context="training",
            )
        mlflow.log_params({f"adapt_{k}": v for k, v in config.adaptation.model_dump().items()})
        source_data, target_data = (
            Labelled.of(
                preprocessor.transform(rows), encode_labels(rows, config.schema), balance=True
            )
            for rows in (source, target)
        )
        unlabelled_x = preprocessor.transform(unlabelled) if len(unlabelled) else None
        if config.transit.path == "direct":
            # Unlabelled target and source rows, for the methods that use them (DANN, MMD, ...).
            pool_data = (
                Labelled.of(
                    preprocessor.transform(pool), encode_labels(pool, config.schema), balance=True
                )
                if pool_labelled
                else None
            )
            model, history = adapt(
                source_model,
                target_data,
                pool_data,
                config.adaptation,
                seed=config.seed,
                device=device,
                unlabelled=unlabelled_x,
                source_data=source_data,
            )
            log_history(history, "adapt")
        else:
            mlflow.log_params({"transit_path": config.transit.path})
            model, history = transit_adapt(
                config,
                source_model,
                preprocessor,
                source=source_data,
                pool=ordered_pool(pool, table),
                target=target_data,
                unlabelled=unlabelled_x,
                workdir=workdir,
                device=device,
            )
            log_history(as_step_history(history), f"transit_{config.transit.path}")
            mlflow.log_dict(history, "transit/steps.json")
        features = [
            embed(model, x)
            for x in (source_data.x, preprocessor.transform(whole_pool), target_data.x)
        ]
        log_after_adaptation(selection_run_id, features, selected, history, config.transit.path)
        path = checkpoint.save(Path(workdir) / "adapted.pt", model.cpu(), preprocessor)
        info = log_scorer(path, target)
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}
