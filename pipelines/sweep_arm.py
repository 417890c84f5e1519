"""One sweep arm as a Prefect task: adapt the shared source model with one method,
hyperparameter setting and seed; score it with and without labels (and, given folds, by
cross-validation on the labelled target rows); log a child run."""

from __future__ import annotations

import os
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from prefect import task

from components import progress
from components.adaptation import AdaptData, AdaptSpec, adapt
from components.candidates import Candidate, NetworkPredictor
from components.data.preprocess import TabularPreprocessor, encode_labels
from components.errors import StepstoneError
from components.evaluation import binary_metrics
from components.evaluation.cv import Fold, cross_validate
from components.evaluation.model_selection import label_free_scores
from components.models import checkpoint
from components.models.rows import Labelled
from components.models.training import predict_proba, resolve_device
from pipelines import tracking
from pipelines.config import PipelineConfig
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import read_split, read_splits, write_split


def hold_out_source(config: PipelineConfig, workdir: str, rows: int) -> int:
    """Move `rows` random source rows (seeded) to a `source_val` split, used only by the
    label-free scorers; the source model and every arm train on the rest."""
    source = read_split(workdir, "source")
    rng = np.random.default_rng(config.seed)
    held = np.zeros(len(source), dtype=bool)
    held[rng.choice(len(source), min(rows, len(source) // 2), replace=False)] = True
    write_split(workdir, "source_val", source[held])
    write_split(workdir, "source", source[~held])
    return int(held.sum())


def _labelled(rows: pd.DataFrame, pre: TabularPreprocessor, config: PipelineConfig) -> Labelled:
    return Labelled.of(pre.transform(rows), encode_labels(rows, config.schema), balance=True)


def arm_data(
    config: PipelineConfig, workdir: str, selection: str, pre: TabularPreprocessor, source_rows: int
) -> tuple[AdaptData, Labelled]:
    """The adapter's data (labelled target, selected pool, unlabelled target, a seeded
    subsample of `source_rows` source rows; 0 = all) and the source validation rows."""
    source, pool, target, unlabelled, source_val = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled", "source_val"
    )
    chosen = pd.read_parquet(selection).query("selected")["row_id"]
    pool = pool[pool["row_id"].isin(chosen)]
    labelled_pool = _labelled(pool, pre, config) if config.schema.label.column in pool else None
    if source_rows and len(source) > source_rows:
        keep = np.random.default_rng(config.seed).choice(len(source), source_rows, replace=False)
        source = source.iloc[np.sort(keep)]
    data = AdaptData(
        target=_labelled(target, pre, config),
        pool=labelled_pool if labelled_pool is not None and len(labelled_pool) else None,
        unlabelled=pre.transform(unlabelled) if len(unlabelled) else None,
        source=_labelled(source, pre, config),
    )
    return data, _labelled(source_val, pre, config)


def slug(text: str) -> str:
    """A file-name-safe version of an arm id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def arm_cv(
    config: PipelineConfig,
    workdir: str,
    source_model: torch.nn.Module,
    pre: TabularPreprocessor,
    data: AdaptData,
    arm: dict,
    folds: list[Fold],
) -> float:
    """The arm's CV AUC: its recipe refitted on each fold's labelled target rows (pool,
    unlabelled and source rows as in the arm), scored on the fold's held-out rows."""
    spec = AdaptSpec.model_validate(arm["spec"])
    (target,) = read_splits(workdir, "target_labelled")

    def fit(rows: pd.DataFrame) -> NetworkPredictor:
        model, _ = adapt(
            source_model,
            _labelled(rows, pre, config),
            data.pool,
            spec,
            seed=arm["seed"],
            device=resolve_device(config.device),
            unlabelled=data.unlabelled,
            source_data=data.source,
        )
        return NetworkPredictor(model.cpu(), pre)

    y = encode_labels(target, config.schema)
    result = cross_validate(
        [Candidate(arm["id"], True, fit)],
        target,
        y,
        lambda yy, p: binary_metrics(yy, p)["auc"],
        folds,
    )
    if result.failed:
        raise StepstoneError(f"arm {arm['id']} failed in cross-validation: {result.failed}")
    return float(result.table.loc[arm["id"], "mean"])


@task(name="adapt_arm", **STAGE_RETRIES)
def adapt_arm(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    selection: str,
    arm: dict,
    source_rows: int,
    threads: int,
    folds: list[Fold] | None = None,
) -> dict:
    """Train one arm, score it (target test metrics for the report; label-free scores and,
    given `folds`, the CV estimate for the choice) and log it as a child run. Returns small
    things only."""
    torch.set_num_threads(threads)
    tracking.configure()  # a worker process does not inherit the parent's MLflow setup
    source_model, pre = checkpoint.load(source_checkpoint)
    spec = AdaptSpec.model_validate(arm["spec"])
    data, source_val = arm_data(config, workdir, selection, pre, source_rows)
    (test,) = read_splits(workdir, "target_test")
    tags = {"arm": arm["id"], "method": spec.method, "sweep_config": arm["config"]}
    with tracking.stage_run(parent_run_id, f"arm {arm['id']}", tags=tags) as run:
        mlflow.log_params({"seed": arm["seed"], **arm["params"], "method": spec.method})
        model, history = adapt(
            source_model,
            data.target,
            data.pool,
            spec,
            seed=arm["seed"],
            device=resolve_device(config.device),
            unlabelled=data.unlabelled,
            source_data=data.source,
        )
        tracking.log_history(history, "adapt")
        model = model.cpu()
        target_x = data.unlabelled if data.unlabelled is not None else data.target.x
        scores = label_free_scores(model, source_val, target_x, seed=config.seed)
        if folds is not None:
            with progress.silenced():
                scores["cv"] = arm_cv(config, workdir, source_model, pre, data, arm, folds)
        metrics = binary_metrics(
            encode_labels(test, config.schema), predict_proba(model, pre.transform(test))
        )
        mlflow.log_metrics({**{f"test_{k}": v for k, v in metrics.items()}, **scores})
        path = Path(workdir) / "arms" / f"{slug(arm['id'])}.pt"
        path.parent.mkdir(exist_ok=True)
        checkpoint.save(path, model, pre)
        return {
            "arm": arm["id"],
            "config": arm["config"],
            "seed": arm["seed"],
            "method": spec.method,
            "run_id": run.info.run_id,
            "checkpoint": str(path),
            "metrics": metrics,
            "scores": scores,
            "pid": os.getpid(),
        }
