"""Stage 4: adapt the source model to the target with the selected pool rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from prefect import task
from torch import nn

from components.adaptation import adapt
from components.adaptation.gradual import StepHook
from components.modality import Encoder, Modality
from components.models import checkpoint, resumable
from components.models.loop import fit
from components.models.rows import Inputs, Labelled
from components.models.training import embed, predict_proba, resolve_device, seed_everything
from pipelines.config import PipelineConfig
from pipelines.packaging import log_scorer
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.select import log_after_adaptation
from pipelines.stages.transit import PathData, as_step_history, ordered_pool, transit_adapt
from pipelines.stages.workspace import has_labels, labelled_rows, read_splits
from pipelines.tracking import log_history, stage_run


@dataclass
class NetworkRecipe:
    """The configured adaptation (method and transit path) with everything it needs but the
    labelled target rows, so that the adapt stage (all labelled rows) and the
    cross-validation of the choose stage (a fold's rows) train the same way."""

    config: PipelineConfig
    modality: Modality
    encoder: Encoder
    source_model: nn.Module
    source: Labelled
    pool: pd.DataFrame  # the selected pool rows in the selector's order
    pool_labelled: bool
    unlabelled: Inputs | None
    device: torch.device

    def fit(
        self, target: pd.DataFrame, on_step: StepHook | None = None
    ) -> tuple[nn.Module, list[dict]]:
        """The adapted network trained on `target` (labelled target rows) and its history."""
        config, modality, encoder = self.config, self.modality, self.encoder
        target_data = (
            labelled_rows(modality, encoder, target)
            if len(target)
            else self.source.take(np.arange(0))
        )
        if config.transit.path == "direct":
            pool = labelled_rows(modality, encoder, self.pool) if self.pool_labelled else None
            return adapt(
                self.source_model,
                target_data,
                pool,
                config.adaptation,
                seed=config.seed,
                device=self.device,
                unlabelled=self.unlabelled,
                source_data=self.source,
            )
        path = PathData(self.source, self.pool, self.pool_labelled, target_data, self.unlabelled)
        return transit_adapt(
            config, self.source_model, modality, encoder, path, on_step, self.device
        )

    def fit_fresh(self, target: pd.DataFrame) -> nn.Module:
        """A new network (no transfer) trained on `target` alone with the adaptation's
        training settings: the no-transfer reference for modalities without their own."""
        seed_everything(self.config.seed)
        model = self.modality.build_model(self.encoder, self.config.seed)
        data = labelled_rows(self.modality, self.encoder, target)
        fit(model, data, self.config.adaptation.train, seed=self.config.seed, device=self.device)
        return model.cpu()


def network_recipe(
    config: PipelineConfig, workdir: str, source_checkpoint: str, selection: str
) -> NetworkRecipe:
    """The recipe for this run's splits, source model and selection table."""
    source_model, encoder = checkpoint.load(source_checkpoint)
    modality = config.modality_impl()
    device = resolve_device(config.device)
    source, whole_pool, unlabelled = read_splits(
        workdir, "source", "intermediate", "target_unlabelled"
    )
    table = pd.read_parquet(selection)
    pool = ordered_pool(whole_pool, table)
    label = modality.label_column
    pool_labelled = len(pool) > 0 and has_labels(pool, label) and pool[label].notna().all()
    return NetworkRecipe(
        config,
        modality,
        encoder,
        source_model.to(device),
        labelled_rows(modality, encoder, source),
        pool,
        pool_labelled,
        encoder.transform(unlabelled) if len(unlabelled) else None,
        device,
    )


def log_recipe_history(config: PipelineConfig, history: list[dict]) -> None:
    """Log a recipe's history to the active run: per epoch for the direct path, per step
    (and transit/steps.json) for the others."""
    if config.transit.path == "direct":
        log_history(history, "adapt")
    else:
        log_history(as_step_history(history), f"transit_{config.transit.path}")
        mlflow.log_dict(history, "transit/steps.json")


@task(name="adapt_target", **STAGE_RETRIES, **STAGE_CACHE)
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
    recipe = network_recipe(config, workdir, source_checkpoint, selection)
    modality, encoder = recipe.modality, recipe.encoder
    source, whole_pool, target, unlabelled, test = read_splits(
        workdir, "source", "intermediate", "target_labelled", "target_unlabelled", "target_test"
    )
    label = modality.label_column
    test_x, test_y = encoder.transform(test), modality.labels(encoder, test)

    def on_step(step: int, m) -> dict[str, float]:  # diagnostic only: no choice depends on it
        return {
            f"test_{modality.metric}": modality.metrics(test_y, predict_proba(m, test_x))[
                modality.metric
            ]
        }

    with stage_run(parent_run_id, "adapt_target", system_metrics=True) as run:
        for name, rows in (("target_labelled", target), ("intermediate_selected", recipe.pool)):
            if len(rows) and has_labels(rows, label) and rows[label].notna().all():
                mlflow.log_input(
                    mlflow.data.from_pandas(rows, name=name, targets=label), context="training"
                )
        mlflow.log_params({f"adapt_{k}": v for k, v in config.adaptation.model_dump().items()})
        mlflow.log_params(
            {"transit_path": config.transit.path, "transit_draws": config.transit.draws}
        )
        with resumable.epoch_checkpoints(Path(workdir) / "epochs", "adapt"):
            model, history = recipe.fit(target, on_step)
        log_recipe_history(config, history)
        features = [
            embed(model, x)
            for x in (
                recipe.source.x,
                encoder.transform(whole_pool),
                encoder.transform(pd.concat([target, unlabelled], ignore_index=True)),
            )
        ]
        selected = whole_pool["row_id"].isin(recipe.pool["row_id"]).to_numpy()
        log_after_adaptation(selection_run_id, features, selected, history, config.transit.path)
        path = checkpoint.save(Path(workdir) / "adapted.pt", model.cpu(), encoder)
        info = log_scorer(path, source)
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}
