"""What every adaptation method takes: its settings (`AdaptSpec`) and its data (`AdaptData`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from components.errors import StepstoneError
from components.models.rows import Inputs, Labelled, concat
from components.models.spec import TrainSpec


class AdaptSpec(BaseModel):
    """Adaptation settings; each method reads the knobs it needs and ignores the rest.

    Loss shares: `target_weight`, `pool_weight`, `source_weight` scale each domain's share of
    the labelled loss. L2-SP: `alpha` pulls the trunk toward the source weights, `beta` shrinks
    the head. `freeze_layers`: layer transfer's frozen leading layers. LwF: `distill_weight`,
    `temperature`. MMD / CORAL / DANN / CDAN: `align_weight` (the adversarial methods'
    maximum coefficient), `align_layers` (MMD), `discriminator_hidden` (DANN, CDAN).
    Self-training: `confidence`, `rounds`.
    `iterations` > 0 replaces `train.epochs` by a fixed number of optimiser steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "l2sp"
    alpha: float = Field(0.01, ge=0)
    beta: float = Field(0.001, ge=0)
    target_weight: float = Field(0.5, ge=0)
    pool_weight: float = Field(0.5, ge=0)
    source_weight: float = Field(0.5, ge=0)
    freeze_layers: int = Field(1, ge=0)
    distill_weight: float = Field(1.0, ge=0)
    temperature: float = Field(2.0, gt=0)
    align_weight: float = Field(1.0, ge=0)
    align_layers: tuple[Literal["features", "logits"], ...] = Field(("features",), min_length=1)
    discriminator_hidden: int = Field(256, ge=1)
    confidence: float = Field(0.9, ge=0.5, le=1.0)
    rounds: int = Field(3, ge=1)
    iterations: int = Field(0, ge=0)
    train: TrainSpec = Field(default_factory=lambda: TrainSpec(epochs=10, lr=5e-4))


# What a method needs: labelled target rows ("target"), rows labelled in any domain
# ("labelled"), unlabelled target inputs ("unlabelled"), labelled source rows ("source").
NEEDS: dict[str, set[str]] = {
    "source_only": set(),
    "finetune": {"target"},
    "layer_transfer": {"target"},
    "l2sp": {"target"},
    "lwf": {"target"},
    "mmd": {"labelled", "unlabelled"},
    "coral": {"labelled", "unlabelled"},
    "dann": {"labelled", "unlabelled"},
    "cdan": {"labelled", "unlabelled"},
    "multitask": {"target", "source"},
    "self_training": {"unlabelled"},
}


@dataclass(frozen=True)
class AdaptData:
    """Everything an adapter may use. `target`: labelled target rows (may be empty);
    `pool`: labelled selected intermediate rows; `unlabelled`: target inputs without labels;
    `source`: labelled source rows."""

    target: Labelled
    pool: Labelled | None = None
    unlabelled: Inputs | None = None
    source: Labelled | None = None

    def target_inputs(self) -> Inputs | None:
        """All target inputs, unlabelled first, then the labelled rows' inputs."""
        parts = [x for x in (self.unlabelled, self.target.x) if x is not None and len(x)]
        return concat(parts) if parts else None


def mix(parts: list[tuple[Labelled | None, float]]) -> Labelled:
    """Concatenate domains so each non-empty one contributes its `share` of the loss
    (shares renormalised over the domains present); mean row weight is 1."""
    present = [(d, share) for d, share in parts if d is not None and len(d) and share > 0]
    if not present:
        raise StepstoneError(
            "no rows with a positive weight: every domain is empty or has a zero share; "
            "check the *_weight settings in the scenario YAML."
        )
    mixed = Labelled.concat(
        [Labelled(d.x, d.y, d.weight * share / d.weight.sum()) for d, share in present]
    )
    weight = (mixed.weight * len(mixed.y) / mixed.weight.sum()).astype(np.float32)
    return Labelled(mixed.x, mixed.y, weight)


def labelled_target(data: AdaptData, spec: AdaptSpec) -> Labelled:
    """Labelled target rows plus the selected pool, weighted by their shares."""
    return mix([(data.target, spec.target_weight), (data.pool, spec.pool_weight)])


def labelled_all(data: AdaptData, spec: AdaptSpec) -> Labelled:
    """Source, pool and labelled target rows, weighted by their shares."""
    return mix(
        [
            (data.source, spec.source_weight),
            (data.pool, spec.pool_weight),
            (data.target, spec.target_weight),
        ]
    )


# The transit paths (transit.path) and the transit section each one reads: `direct` runs the
# adaptation method (AdaptSpec) instead; gradual and progressive read transit.gradual.
PATHS: dict[str, str | None] = {
    "direct": None,
    "gradual": "gradual",
    "progressive": "gradual",
    "joint": "joint",
}


class GradualSpec(BaseModel):
    """Per-step training, the pseudo-label confidence cut, the neighbours each pseudo-label is
    voted over (0 or 1: the row alone), and how much of each step's loss comes from labelled
    target rows (when given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    drop_fraction: float = Field(0.1, ge=0, lt=1)
    neighbours: int = Field(0, ge=0)
    target_weight: float = Field(0.5, ge=0, le=1)
    use_pool_labels: bool = False
    train: TrainSpec = Field(default_factory=lambda: TrainSpec(epochs=5, lr=1e-3))


class JointSpec(BaseModel):
    """Loss shares per domain (renormalised over the domains present), whether known pool
    labels are used (else pool rows are pseudo-labelled), and training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_weight: float = Field(0.2, ge=0)
    pool_weight: float = Field(0.3, ge=0)
    target_weight: float = Field(0.5, ge=0)
    drop_fraction: float = Field(0.1, ge=0, lt=1)
    use_pool_labels: bool = True
    train: TrainSpec = Field(default_factory=lambda: TrainSpec(epochs=10, lr=5e-4))
