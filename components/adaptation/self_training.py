"""Self-training: label the confident target rows with the current model, retrain, repeat."""

from __future__ import annotations

import copy

import numpy as np
from torch import nn

from components.adaptation.spec import AdaptData, AdaptSpec, mix
from components.models.loop import train_joint
from components.models.rows import Inputs, Labelled, take
from components.models.training import predict_proba


def pseudo_labels(model: nn.Module, x: Inputs, confidence: float) -> Labelled:
    """The rows whose predicted class has probability >= `confidence`, labelled with it."""
    proba = predict_proba(model, x)
    if proba.ndim == 1:
        label, top = (proba >= 0.5).astype(np.float32), np.maximum(proba, 1 - proba)
    else:
        label, top = proba.argmax(axis=1).astype(np.int64), proba.max(axis=1)
    keep = np.flatnonzero(top >= confidence)
    return Labelled(take(x, keep), label[keep], np.ones(len(keep), dtype=np.float32))


def self_training(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """`rounds` rounds of: pseudo-label the unlabelled target rows with the current model,
    then train on the labelled rows (source, pool, target) plus the pseudo-labelled ones,
    which share the target's weight. With labelled target rows the first round uses them
    alone, so the first pseudo-labels already come from a target-aware model. Each round
    gets 1/rounds of the training budget."""
    model = copy.deepcopy(source).to(device)
    rounds_train = spec.train.model_copy(
        update={"epochs": max(1, spec.train.epochs // spec.rounds)}
    )
    history: list[dict[str, float]] = []
    for round_ in range(spec.rounds):
        target = data.target
        pseudo = pseudo_labels(model, data.unlabelled, spec.confidence)
        if round_ == 0 and len(target):
            pseudo = pseudo.take(np.arange(0))
        if len(pseudo):
            target = Labelled.concat([t for t in (data.target, pseudo) if len(t)])
        labelled = mix(
            [
                (data.source, spec.source_weight),
                (data.pool, spec.pool_weight),
                (target, spec.target_weight),
            ]
        )
        rows = train_joint(
            model,
            labelled,
            rounds_train,
            iterations=spec.iterations // spec.rounds,
            seed=seed + round_,
            device=device,
            desc=f"self-train round {round_ + 1}/{spec.rounds}",
        )
        history += [
            {**row, "epoch": len(history) + i, "pseudo_rows": float(len(pseudo))}
            for i, row in enumerate(rows)
        ]
    return model, history
