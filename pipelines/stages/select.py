"""Stage 3: choose the intermediate (pool) rows that bridge source and target."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
from prefect import task

from components.evaluation import score_histogram
from components.models import checkpoint
from components.models.training import embed
from components.selection import select
from pipelines.config import PipelineConfig
from pipelines.stages.workspace import read_splits
from pipelines.tracking import stage_run


@task(name="select_intermediate")
def select_intermediate(
    config: PipelineConfig, workdir: str, parent_run_id: str, source_checkpoint: str
) -> dict:
    """Score the pool in the source model's feature space; log and save the Selection table."""
    model, preprocessor = checkpoint.load(source_checkpoint)
    source, pool, target = read_splits(workdir, "source", "intermediate", "target_labelled")
    with stage_run(parent_run_id, "select_intermediate") as run:
        mlflow.log_params({f"selection_{k}": v for k, v in config.selection.model_dump().items()})
        features = [embed(model, preprocessor.transform(rows)) for rows in (source, pool, target)]
        selection = select(*features, pool["row_id"].to_numpy(), config.selection, seed=config.seed)
        table = selection.table
        path = Path(workdir) / "selection.parquet"
        table.to_parquet(path, index=False)
        table.to_csv(Path(workdir) / "selection.csv", index=False)
        mlflow.log_artifact(str(Path(workdir) / "selection.csv"), "selection")
        kept = table[table["selected"]]
        mlflow.log_metrics(
            {
                "pool_rows": len(table),
                "selected_rows": len(kept),
                "mean_score_selected": float(kept["score"].mean()),
                "mean_score_pool": float(table["score"].mean()),
            }
        )
        mlflow.log_figure(
            score_histogram(np.asarray(table["score"]), np.asarray(table["selected"])),
            "selection/scores.png",
        )
        return {"run_id": run.info.run_id, "selection": str(path)}
