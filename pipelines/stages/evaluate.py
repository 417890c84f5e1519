"""Stage 5: score every arm on the same target test rows, with bootstrap intervals."""

from __future__ import annotations

import time

import mlflow
import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from components.evaluation import (
    METRIC_NAMES,
    comparison_table,
    gain_lift_figure,
    roc_figure,
    to_markdown,
)
from components.models import checkpoint
from pipelines.config import PipelineConfig
from pipelines.stages.workspace import read_splits
from pipelines.tracking import stage_run


def shown_columns(metric: str) -> list[str]:
    """The table's columns: the headline metric with its interval, then (tables) the rest."""
    rest = [m for m in METRIC_NAMES if m not in (metric, "base_rate")] if metric == "auc" else []
    return [metric, f"{metric}_lo", f"{metric}_hi", *rest]


def score_arms(
    config: PipelineConfig, workdir: str, source_checkpoint: str, transfer_uri: str
) -> dict[str, np.ndarray]:
    """Test-row probabilities of the baselines, the source model and the logged transfer model."""
    modality = config.modality_impl()
    source, target, test = read_splits(workdir, "source", "target_labelled", "target_test")
    scores = (
        modality.baselines({"source": source, "target": target}, test, config.seed)
        if len(target)
        else {}
    )
    model, encoder = checkpoint.load(source_checkpoint)
    scores["source_model"] = checkpoint.score_rows(model, encoder, test)
    # The transfer arm is scored through the logged pyfunc, exactly as it will be served.
    served = mlflow.pyfunc.load_model(transfer_uri).predict(test[encoder.columns])
    scores["transfer"] = modality.proba_of(served)
    return scores


@task(name="evaluate")
def evaluate(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    transfer_uri: str,
) -> dict:
    """Log metrics, intervals, charts and the comparison table of every arm on the same
    target test rows."""
    (test,) = read_splits(workdir, "target_test")
    modality = config.modality_impl()
    _, encoder = checkpoint.load(source_checkpoint)
    y = modality.labels(encoder, test)
    alpha = 1.0 - config.evaluation.ci_level
    with stage_run(parent_run_id, "evaluate") as run:
        mlflow.log_input(
            mlflow.data.from_pandas(test, name="target_test", targets=modality.label_column),
            context="testing",
        )
        scores = score_arms(config, workdir, source_checkpoint, transfer_uri)
        metrics = {arm: modality.metrics(y, s) for arm, s in scores.items()}
        cis = {
            arm: modality.intervals(y, s, config.evaluation.bootstrap, alpha, config.seed)
            for arm, s in scores.items()
        }
        table = comparison_table(metrics, cis)
        flat = {f"{arm}_{k}": v for arm, row in metrics.items() for k, v in row.items()}
        mlflow.log_metrics(flat)
        now = int(time.time() * 1000)
        mlflow.MlflowClient().log_batch(
            parent_run_id, metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in flat.items()]
        )
        mlflow.log_table(table.reset_index(), "evaluation/comparison.json")
        mlflow.log_text(to_markdown(table), "evaluation/comparison.md")
        if modality.metric == "auc":
            mlflow.log_figure(roc_figure(y, scores), "evaluation/roc.png")
            mlflow.log_figure(gain_lift_figure(y, scores), "evaluation/gain_lift.png")
        else:
            table = table.sort_values("accuracy", ascending=False, kind="stable")
        shown = table[[c for c in shown_columns(modality.metric) if c in table.columns]]
        create_table_artifact(
            key="stepstone-comparison",
            table=shown.reset_index().round(4).to_dict(orient="records"),
            description=f"Arms on {len(test)} target test rows, run {parent_run_id}",
        )
        create_markdown_artifact(key="stepstone-comparison-md", markdown=to_markdown(shown))
        return {
            "run_id": run.info.run_id,
            "test_rows": len(test),
            "metrics": metrics,
            "table": to_markdown(shown),
        }
