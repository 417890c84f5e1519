"""The networks' and the optimiser's settings, as the scenario YAML writes them. Torch-free,
so a config can be read and checked without importing torch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainSpec(BaseModel):
    """Optimiser settings for one training stage. `lr_decay: annealed` applies Ganin et al.'s
    DANN schedule lr / (1 + 10 p) ** 0.75 over training progress p."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    lr_decay: Literal["constant", "annealed"] = "constant"


class MLPSpec(BaseModel):
    """Network shape. The trunk's last layer is the feature space selectors and
    adaptation methods work in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_dim: int = Field(4, ge=1)
    hidden: tuple[Annotated[int, Field(ge=1)], ...] = (64, 32)
    dropout: float = Field(0.1, ge=0, lt=1)


class CNNSpec(BaseModel):
    """Network shape; `features()` (the flattened conv output) is what selectors see."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: int = Field(32, ge=1)
    kernel: int = Field(5, ge=1)
    dropout: float = Field(0.5, ge=0, lt=1)
