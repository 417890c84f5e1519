"""Stage 4: adapt the source model to the target with the selected pool rows."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from prefect import task

from components.adaptation import adapt
from components.models import checkpoint
from components.models.training import embed, predict_proba, resolve_device
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.stages.select import log_after_adaptation
from pipelines.stages.transit import PathData, as_step_history, ordered_pool, transit_adapt
from pipelines.stages.workspace import has_labels, labelled_rows, read_splits
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
    """Train from the source weights on the target (labelled and unlabelled rows) and the
    selected pool rows, directly or along config.transit.path; log the adapted model as a
    pyfunc on raw rows."""
    source_model, encoder = checkpoint.load(source_checkpoint)
    modality = config.modality_impl()
    device = resolve_device(config.device)
    source_model.to(device)
    source, whole_pool, target, unlabelled, test = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled", "target_test"
    )
    table = pd.read_parquet(selection)
    selected = whole_pool["row_id"].isin(table.query("selected")["row_id"]).to_numpy()
    pool = whole_pool[selected]
    label = modality.label_column
    pool_labelled = len(pool) > 0 and has_labels(pool, label) and pool[label].notna().all()
    test_x, test_y = encoder.transform(test), modality.labels(encoder, test)

    def on_step(step: int, m) -> dict[str, float]:  # diagnostic only: no choice depends on it
        return {
            f"test_{modality.metric}": modality.metrics(test_y, predict_proba(m, test_x))[
                modality.metric
            ]
        }

    with stage_run(parent_run_id, "adapt_target", system_metrics=True) as run:
        for name, rows in (("target_labelled", target), ("intermediate_selected", pool)):
            if len(rows) and has_labels(rows, label) and rows[label].notna().all():
                mlflow.log_input(
                    mlflow.data.from_pandas(rows, name=name, targets=label), context="training"
                )
        mlflow.log_params({f"adapt_{k}": v for k, v in config.adaptation.model_dump().items()})
        mlflow.log_params(
            {"transit_path": config.transit.path, "transit_draws": config.transit.draws}
        )
        source_data = labelled_rows(modality, encoder, source)
        target_data = (
            labelled_rows(modality, encoder, target)
            if len(target)
            else source_data.take(np.arange(0))
        )
        unlabelled_x = encoder.transform(unlabelled) if len(unlabelled) else None
        if config.transit.path == "direct":
            model, history = adapt(
                source_model,
                target_data,
                labelled_rows(modality, encoder, pool) if pool_labelled else None,
                config.adaptation,
                seed=config.seed,
                device=device,
                unlabelled=unlabelled_x,
                source_data=source_data,
            )
            log_history(history, "adapt")
        else:
            path = PathData(
                source_data, ordered_pool(pool, table), pool_labelled, target_data, unlabelled_x
            )
            model, history = transit_adapt(
                config, source_model, modality, encoder, path, on_step, device
            )
            log_history(as_step_history(history), f"transit_{config.transit.path}")
            mlflow.log_dict(history, "transit/steps.json")
        features = [
            embed(model, x)
            for x in (
                source_data.x,
                encoder.transform(whole_pool),
                encoder.transform(pd.concat([target, unlabelled], ignore_index=True)),
            )
        ]
        log_after_adaptation(selection_run_id, features, selected, history, config.transit.path)
        path = checkpoint.save(Path(workdir) / "adapted.pt", model.cpu(), encoder)
        info = log_scorer(path, source)
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}
