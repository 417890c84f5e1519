"""One sweep arm as a Prefect task: train the run's recipe (stages/adapt.py) with the arm's
method or transit path, setting and seed, from the shared source model; score it with and
without labels (and, given folds, by cross-validation on the labelled target rows); log a
child run. The same for every modality."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import mlflow
import numpy as np
import torch
from prefect import task

from components import progress
from components.candidates import Candidate, NetworkPredictor
from components.errors import StepstoneError
from components.evaluation.cv import Fold, cross_validate
from components.evaluation.model_selection import label_free_scores
from components.models import checkpoint
from components.models.training import predict_proba
from pipelines import tracking
from pipelines.config import PipelineConfig
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.adapt import NetworkRecipe, log_recipe_history, network_recipe
from pipelines.stages.workspace import labelled_rows, read_split, read_splits, write_split
from pipelines.sweep_grid import arm_config


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


def slug(text: str) -> str:
    """A file-name-safe version of an arm id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def arm_recipe(
    config: PipelineConfig, workdir: str, source_checkpoint: str, selection: str, source_rows: int
) -> NetworkRecipe:
    """The run's recipe under the arm's config, with a seeded subsample of `source_rows`
    labelled source rows (0 = all) for the methods that train on the source."""
    recipe = network_recipe(config, workdir, source_checkpoint, selection)
    if source_rows and len(recipe.source) > source_rows:
        keep = np.random.default_rng(config.seed).choice(len(recipe.source), source_rows, False)
        recipe = dataclasses.replace(recipe, source=recipe.source.take(np.sort(keep)))
    return recipe


def arm_cv(recipe: NetworkRecipe, workdir: str, arm_id: str, folds: list[Fold]) -> float:
    """The arm's CV estimate: its recipe refitted on each fold's labelled target rows (pool,
    unlabelled and source rows as in the arm), scored on the fold's held-out rows."""
    modality, encoder = recipe.modality, recipe.encoder
    target = read_split(workdir, "target_labelled")
    result = cross_validate(
        [
            Candidate(
                arm_id, True, lambda rows: NetworkPredictor(recipe.fit(rows)[0].cpu(), encoder)
            )
        ],
        target,
        modality.labels(encoder, target),
        lambda y, p: modality.metrics(y, p)[modality.metric],
        folds,
    )
    if result.failed:
        raise StepstoneError(f"arm {arm_id} failed in cross-validation: {result.failed}")
    return float(result.table.loc[arm_id, "mean"])


@task(name="adapt_arm", **STAGE_RETRIES)
def adapt_arm(
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
    config = arm_config(arm)
    recipe = arm_recipe(config, workdir, source_checkpoint, selection, source_rows)
    modality, encoder = recipe.modality, recipe.encoder
    target, unlabelled, source_val, test = read_splits(
        workdir, "target_labelled", "target_unlabelled", "source_val", "target_test"
    )
    tags = {"arm": arm["id"], "method": arm["method"], "path": arm["path"]}
    run_tags = {**tags, "sweep_config": arm["config"]}
    with tracking.stage_run(parent_run_id, f"arm {arm['id']}", tags=run_tags) as run:
        mlflow.log_params({"seed": arm["seed"], **arm["params"], **tags})
        model, history = recipe.fit(target)
        log_recipe_history(config, history)
        model = model.cpu()
        ends = encoder.transform(unlabelled if len(unlabelled) else target)
        scores = label_free_scores(
            model, labelled_rows(modality, encoder, source_val), ends, seed=config.seed
        )
        if folds is not None:
            with progress.silenced():
                scores["cv"] = arm_cv(recipe, workdir, arm["id"], folds)
        metrics = modality.metrics(
            modality.labels(encoder, test), predict_proba(model, encoder.transform(test))
        )
        mlflow.log_metrics({**{f"test_{k}": v for k, v in metrics.items()}, **scores})
        path = Path(workdir) / "arms" / f"{slug(arm['id'])}.pt"
        path.parent.mkdir(exist_ok=True)
        checkpoint.save(path, model, encoder)
        return {
            "arm": arm["id"],
            "config": arm["config"],
            "seed": arm["seed"],
            "method": arm["method"],
            "path": arm["path"],
            "run_id": run.info.run_id,
            "checkpoint": str(path),
            "metrics": metrics,
            "scores": scores,
            "pid": os.getpid(),
        }
