"""Joint training: one model trained from the source weights on source rows, the selected
pool rows (weighted, true labels when known else confident pseudo-labels) and the labelled
target rows, each domain contributing its configured share of the loss."""

from __future__ import annotations

import copy

import torch
from torch import nn

from components.adaptation.gradual import pseudo_label
from components.adaptation.spec import JointSpec, mix
from components.models.loop import fit
from components.models.rows import Inputs, Labelled


def joint_train(
    source_model: nn.Module,
    source: Labelled,
    pool: Labelled | Inputs | None,
    target: Labelled | None,
    spec: JointSpec,
    seed: int = 0,
    device: torch.device | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a copy of the source model on the mix; unlabelled pool rows are pseudo-labelled
    by the source model first."""
    if pool is not None and not isinstance(pool, Labelled):
        pool = pseudo_label(source_model, pool, spec.drop_fraction) if len(pool) else None
    data = mix(
        [(source, spec.source_weight), (pool, spec.pool_weight), (target, spec.target_weight)]
    )
    model = copy.deepcopy(source_model)
    return model, fit(model, data, spec.train, seed=seed, device=device, desc="adapt")
