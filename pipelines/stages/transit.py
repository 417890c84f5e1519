"""The non-direct adaptation paths of stage 4 (transit.path = gradual | progressive | joint)
for tabular scenarios: build each path's inputs from the splits and the Selection."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from components.adaptation.gradual import gradual_self_train, progressive_self_train
from components.adaptation.joint import joint_train
from components.data.preprocess import TabularPreprocessor, encode_labels
from components.evaluation import binary_metrics
from components.models.training import Inputs, Labelled, concat, predict_proba
from pipelines.config import PipelineConfig
from pipelines.stages.workspace import read_split


def ordered_pool(pool: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """The selected pool rows in the selector's order, with their chunk and score."""
    kept = selection.query("selected")[["row_id", "order", "chunk", "score"]]
    return kept.merge(pool, on="row_id").sort_values("order", ignore_index=True)


def transit_adapt(
    config: PipelineConfig,
    model: nn.Module,
    preprocessor: TabularPreprocessor,
    *,
    source: Labelled,
    pool: pd.DataFrame,
    target: Labelled,
    unlabelled: Inputs | None,
    workdir: str,
    device: torch.device,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Adapt `model` along config.transit.path from the labelled source and target rows, the
    selected pool rows in order (`ordered_pool`) and the unlabelled target inputs; history has
    one row per step (gradual) or epoch (joint), with the step's AUC on the target test rows
    (read here) as a diagnostic only."""
    test = read_split(workdir, "target_test")
    schema, transit, label = config.schema, config.transit, config.schema.label.column
    pool_labelled = label in pool.columns and transit.gradual.use_pool_labels
    test_x, test_y = preprocessor.transform(test), encode_labels(test, schema)

    def on_step(step: int, m: nn.Module) -> dict[str, float]:
        return {"test_auc": binary_metrics(test_y, predict_proba(m, test_x))["auc"]}

    if transit.path == "joint":
        pool_x = preprocessor.transform(pool)
        pool_data = (
            Labelled.of(pool_x, encode_labels(pool, schema), balance=True)
            if label in pool.columns and transit.joint.use_pool_labels
            else pool_x
        )
        return joint_train(
            model, source, pool_data, target, transit.joint, config.seed, device=device
        )
    if transit.path == "progressive":
        return progressive_self_train(
            model,
            source.x,
            preprocessor.transform(pool),
            concat([target.x] if unlabelled is None else [target.x, unlabelled]),
            config.selection.chunks,
            transit.gradual,
            config.seed,
            target=target,
            on_step=on_step,
            device=device,
        )
    steps = []
    for _, rows in pool.groupby("chunk", sort=True):
        x = preprocessor.transform(rows)
        steps.append(
            Labelled.of(x, encode_labels(rows, schema), balance=True) if pool_labelled else x
        )
    if unlabelled is not None:
        steps.append(unlabelled)
    return gradual_self_train(
        model,
        steps,
        transit.gradual,
        config.seed,
        target=target,
        on_step=on_step,
        device=device,
    )


def as_step_history(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Rename `step` to `epoch` so tracking.log_history can log it with the step index."""
    return [
        {
            "epoch": row.get("step", row.get("epoch", i)),
            **{k: v for k, v in row.items() if k not in ("step", "epoch")},
        }
        for i, row in enumerate(history)
    ]
