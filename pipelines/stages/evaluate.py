"""Stage 6: score every candidate on the same target test rows, with bootstrap intervals."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from components.candidates import load_predictor
from components.evaluation import (
    METRIC_NAMES,
    comparison_table,
    gain_lift_figure,
    roc_figure,
    to_markdown,
)
from components.models import checkpoint
from pipelines.config import PipelineConfig
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import read_splits
from pipelines.tracking import stage_run


def shown_columns(metric: str) -> list[str]:
    """The table's columns: the headline metric with its interval and CV estimate, whether
    it is the registered model, then (tables) the rest."""
    rest = [m for m in METRIC_NAMES if m not in (metric, "base_rate")] if metric == "auc" else []
    cv = [f"cv_{metric}", f"cv_{metric}_se", "registered"]
    return [metric, f"{metric}_lo", f"{metric}_hi", *cv, *rest]


def score_arms(
    config: PipelineConfig, workdir: str, source_checkpoint: str, chosen: dict
) -> dict[str, np.ndarray]:
    """Test-row probabilities of every refitted candidate and the source model; the chosen
    candidate is scored through its logged pyfunc, exactly as it will be served."""
    modality = config.modality_impl()
    (test,) = read_splits(workdir, "target_test")
    model, encoder = checkpoint.load(source_checkpoint)
    scores = {
        name: load_predictor(path).predict_proba(test)
        for name, path in chosen["candidates"].items()
    }
    scores["source_model"] = checkpoint.score_rows(model, encoder, test)
    served = mlflow.pyfunc.load_model(chosen["model_uri"])
    scores[chosen["choice"]["name"]] = modality.proba_of(served.predict(test[encoder.columns]))
    return scores


def log_explanations(config: PipelineConfig, workdir: str, chosen: dict, columns: list[str]):
    """The modality's reports on the registered model (texts: the pivot report), from its
    answers on the source, pool and labelled/unlabelled target rows, never test rows."""
    modality = config.modality_impl()
    source, pool, labelled, unlabelled = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled"
    )
    rows = {"source": source, "intermediate": pool, "target": pd.concat([labelled, unlabelled])}
    served = mlflow.pyfunc.load_model(chosen["model_uri"])

    def predict(part: pd.DataFrame) -> np.ndarray:
        return modality.proba_of(served.predict(part[columns]))

    for name, report in modality.explain(rows, predict, config.seed).items():
        if isinstance(report, pd.DataFrame):
            mlflow.log_dict(report.to_dict(orient="records"), f"evaluation/{name}")
        else:
            mlflow.log_text(report, f"evaluation/{name}")


def with_choice(table: pd.DataFrame, chosen: dict, metric: str) -> pd.DataFrame:
    """The arms table with each candidate's CV estimate (mean, its bootstrap SE) and the
    registered one marked."""
    cv = chosen.get("cv") or {}
    table = table.assign(
        **{
            f"cv_{metric}": [cv.get(a, {}).get("mean", np.nan) for a in table.index],
            f"cv_{metric}_se": [cv.get(a, {}).get("se", np.nan) for a in table.index],
            "registered": [a == chosen["choice"]["name"] for a in table.index],
        }
    )
    return table.sort_values(metric, ascending=False, kind="stable")


@task(name="evaluate", **STAGE_RETRIES, **STAGE_CACHE)
def evaluate(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    chosen: dict,
) -> dict:
    """Log metrics, intervals, charts and the comparison table of every candidate (refitted
    on all labelled rows) and the source model on the same target test rows, next to their
    CV estimates; the test rows played no part in the choice."""
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
        scores = score_arms(config, workdir, source_checkpoint, chosen)
        metrics = {arm: modality.metrics(y, s) for arm, s in scores.items()}
        cis = {
            arm: modality.intervals(y, s, config.evaluation.bootstrap, alpha, config.seed)
            for arm, s in scores.items()
        }
        table = with_choice(comparison_table(metrics, cis), chosen, modality.metric)
        flat = {f"{arm}_{k}": v for arm, row in metrics.items() for k, v in row.items()}
        mlflow.log_metrics(flat)
        now = int(time.time() * 1000)
        mlflow.MlflowClient().log_batch(
            parent_run_id, metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in flat.items()]
        )
        mlflow.log_table(table.reset_index(), "evaluation/comparison.json")
        if all(np.ndim(v) == 1 for v in scores.values()):  # per-row scores, for audits
            per_row = pd.DataFrame({"row_id": test["row_id"], "label": y, **scores})
            path = Path(workdir) / "test_scores.parquet"
            per_row.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), "evaluation")
        mlflow.log_text(to_markdown(table), "evaluation/comparison.md")
        log_explanations(config, workdir, chosen, encoder.columns)
        if modality.metric == "auc":
            mlflow.log_figure(roc_figure(y, scores), "evaluation/roc.png")
            mlflow.log_figure(gain_lift_figure(y, scores), "evaluation/gain_lift.png")
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
