"""Multitask transfer: one shared trunk, a source head and a target head, trained jointly."""

from __future__ import annotations

import copy

import torch
from torch import nn

from components.adaptation.spec import AdaptData, AdaptSpec, labelled_target, mix
from components.models.loop import Step, head_logits, train_joint, weighted_loss


def multitask(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """The model's own head learns the labelled target (+ pool) rows; a copy of the source
    head keeps learning the source rows through the same trunk (weight `source_weight`).
    Returns the network with the target head."""
    model = copy.deepcopy(source)
    source_head = copy.deepcopy(source.head)

    def extra(step: Step) -> dict[str, torch.Tensor]:
        logits = head_logits(source_head, step.aux_features)
        return {"source": spec.source_weight * weighted_loss(logits, step.aux_y, step.aux_weight)}

    history = train_joint(
        model,
        labelled_target(data, spec),
        spec.train,
        aux=mix([(data.source, 1.0)]),
        extra=extra,
        modules=(source_head,),
        iterations=spec.iterations,
        seed=seed,
        device=device,
        desc="adapt",
    )
    return model, history
