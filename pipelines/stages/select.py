"""Stage 3: choose the intermediate (pool) rows that bridge source and target."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import task

from components.data.loading import STEP
from components.evaluation import score_histogram
from components.modality import Encoder
from components.models import checkpoint
from components.models.training import embed
from components.selection import SideInfo, select
from components.selection import report as selection_report
from pipelines.config import PipelineConfig
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import has_labels, read_splits
from pipelines.tracking import stage_run


def side_info(config: PipelineConfig, encoder: Encoder, source, pool, target) -> SideInfo:
    """Labels of the labelled rows (when selection.use_labels; a domain with unlabelled rows,
    such as a target with target.unlabelled > 0, gives none) and the pool's true positions
    (when selection.truth names a pool column) and stepping stones (when the scenario lists
    them: data.domains.intermediate as a list)."""
    truth = config.selection.truth  # the validate stage checked the pool has it
    positions = pool[truth].to_numpy(dtype=float) if truth else None
    steps = pool[STEP].to_numpy() if STEP in pool.columns else None
    if not config.selection.use_labels:
        return SideInfo(positions=positions, steps=steps)
    modality = config.modality_impl()

    def labels(rows: pd.DataFrame) -> np.ndarray | None:
        if len(rows) == 0 or not has_labels(rows, modality.label_column):
            return None
        if rows[modality.label_column].isna().any():
            return None
        return modality.labels(encoder, rows).astype(np.int64)

    return SideInfo(labels(source), labels(pool), labels(target), positions, steps)


def log_reports(
    table: pd.DataFrame, features: list, selected: np.ndarray, truth: pd.Series | None
) -> None:
    """Selection-quality artifacts on the active run: the PCA view of source / pool / selected /
    target and, when the pool's true positions are known (`truth`, indexed by row id), the
    order's rank correlation with them, the selected share per position bin and the scores."""
    source_f, pool_f, target_f = features
    mlflow.log_figure(
        selection_report.embedding_figure(
            source_f, pool_f, selected, target_f, "Source-model features (before adaptation)"
        ),
        "selection/embedding_before.png",
    )
    if truth is None:
        return
    scored = selection_report.with_truth(table, truth)
    mlflow.log_metric("order_spearman_with_truth", selection_report.order_spearman(scored))
    mlflow.log_table(selection_report.selected_by_truth(scored), "selection/selected_by_truth.json")
    mlflow.log_figure(selection_report.score_histograms(scored), "selection/scores_by_truth.png")


def log_after_adaptation(
    selection_run_id: str, features: list, selected: np.ndarray, history: list[dict], path: str
) -> None:
    """Add the adapted model's PCA view and the per-step history to the selection run."""
    client = MlflowClient()
    figure = selection_report.embedding_figure(
        features[0], features[1], selected, features[2], "Adapted-model features"
    )
    client.log_figure(selection_run_id, figure, "selection/embedding_after.png")
    client.log_dict(selection_run_id, history, f"selection/adapt_{path}_steps.json")


@task(name="select_intermediate", **STAGE_RETRIES, **STAGE_CACHE)
def select_intermediate(
    config: PipelineConfig, workdir: str, parent_run_id: str, source_checkpoint: str
) -> dict:
    """Score the pool in the source model's feature space against the target's labelled and
    unlabelled rows (never its test rows); log and save the Selection table."""
    model, encoder = checkpoint.load(source_checkpoint)
    source, pool, labelled, unlabelled = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled"
    )
    target = pd.concat([labelled, unlabelled], ignore_index=True)  # never the test rows
    with stage_run(parent_run_id, "select_intermediate") as run:
        mlflow.log_params({f"selection_{k}": v for k, v in config.selection.model_dump().items()})
        features = [embed(model, encoder.transform(rows)) for rows in (source, pool, target)]
        selection = select(
            *features,
            pool["row_id"].to_numpy(),
            config.selection,
            seed=config.seed,
            side=side_info(config, encoder, source, pool, target),
        )
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
        selected = pool["row_id"].isin(table.loc[table["selected"], "row_id"]).to_numpy()
        truth = config.selection.truth
        positions = pd.Series(pool[truth].to_numpy(), index=pool["row_id"]) if truth else None
        log_reports(table, features, selected, positions)
        return {"run_id": run.info.run_id, "selection": str(path)}
