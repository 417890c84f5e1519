"""The non-direct adaptation paths of stage 4 (transit.path = gradual | progressive | joint),
for every modality: build each path's inputs from the splits and the Selection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from components.adaptation.gradual import (
    StepHook,
    gradual_self_train,
    jittered_paths,
    progressive_self_train,
)
from components.adaptation.joint import joint_train
from components.modality import Encoder, Modality
from components.models.ensemble import Ensemble
from components.models.rows import Inputs, Labelled, concat
from components.selection import Selection
from pipelines.config import PipelineConfig
from pipelines.stages.workspace import labelled_rows


@dataclass(frozen=True)
class PathData:
    """What a path walks over: labelled source and target rows (the target's may be empty),
    the selected pool rows in the selector's order (`ordered_pool`), the unlabelled target."""

    source: Labelled
    pool: pd.DataFrame
    pool_labelled: bool
    target: Labelled
    unlabelled: Inputs | None


def ordered_pool(pool: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """The selected pool rows in the selector's order, with their chunk and score."""
    kept = selection.query("selected")[["row_id", "order", "chunk", "score"]]
    return kept.merge(pool, on="row_id").sort_values("order", ignore_index=True)


def transit_adapt(
    config: PipelineConfig,
    model: nn.Module,
    modality: Modality,
    encoder: Encoder,
    data: PathData,
    on_step: StepHook,
    device: torch.device,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Adapt `model` along config.transit.path; history has one row per step (gradual) or
    epoch (joint), with `on_step`'s diagnostics."""
    transit, pool = config.transit, data.pool
    target = data.target if len(data.target) else None
    ends = [data.target.x] if target is not None else []
    if data.unlabelled is not None:
        ends.append(data.unlabelled)
    target_x = concat(ends)  # every non-test target input
    last = data.unlabelled if data.unlabelled is not None else target_x  # the final step

    def step(rows: pd.DataFrame, use_labels: bool) -> Inputs | Labelled:
        if use_labels and data.pool_labelled:
            return labelled_rows(modality, encoder, rows)
        return encoder.transform(rows)

    if transit.path == "joint":
        pool_data = step(pool, transit.joint.use_pool_labels) if len(pool) else None
        return joint_train(
            model, data.source, pool_data, target, transit.joint, config.seed, device=device
        )
    if transit.path == "progressive":
        return progressive_self_train(
            model,
            data.source.x,
            encoder.transform(pool),
            target_x,
            config.selection.chunks,
            transit.gradual,
            config.seed,
            target=target,
            on_step=on_step,
            device=device,
        )
    if transit.draws > 1:
        positions = pd.Series(np.arange(len(pool)), index=pool["row_id"])
        table = pool[["row_id", "score", "order", "chunk"]].assign(selected=True)
        paths = jittered_paths(
            model,
            Selection(table.assign(row_id=positions[table["row_id"]].to_numpy())),
            config.selection,
            encoder.transform(pool),
            last,
            transit.draws,
            transit.gradual,
            config.seed,
            on_step=on_step,
            device=device,
            target=target,
        )
        return Ensemble([m for m, _ in paths]), paths[0][1]
    steps = [
        step(rows, transit.gradual.use_pool_labels) for _, rows in pool.groupby("chunk", sort=True)
    ]
    if data.unlabelled is not None:
        steps.append(last)
    return gradual_self_train(
        model, steps, transit.gradual, config.seed, target=target, on_step=on_step, device=device
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
