"""What a candidate is: a named recipe, `transfer` or not, that fits a Predictor on the
labelled target rows it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import joblib
import numpy as np
import pandas as pd
from torch import nn

from components.models import checkpoint


class Predictor(Protocol):
    """A fitted model on raw rows. `encoder` is the source encoder: its columns and levels
    are what the served model checks its input against, and it formats the answer."""

    encoder: checkpoint.Encoder

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """P(positive) [n] for binary, class probabilities [n, k] otherwise."""
        ...


@dataclass(frozen=True)
class Candidate:
    """`fit(labelled_target_rows)` returns a Predictor; source and pool rows, selector
    scores and the source network are bound into `fit` by whoever builds the candidate.
    `transfer` says whether it adapts what it learns elsewhere to the target (pooling rows
    as they are is not transfer); `uses_target: False` marks a recipe that ignores the
    target rows, which the cross-validation then fits once; `parallel: True` marks a fit
    that uses no global random state (no torch training), which may then run beside another
    (components.candidates.lanes)."""

    name: str
    transfer: bool
    fit: Callable[[pd.DataFrame], Predictor]
    uses_target: bool = True
    parallel: bool = False


@dataclass(frozen=True)
class Blend:
    """The mean of other candidates' probabilities. Its cross-validated predictions are the
    mean of its members' on the same fold, so it costs no training of its own."""

    name: str
    members: tuple[str, ...]
    transfer: bool = True


@dataclass
class NetworkPredictor:
    """A torch network and its encoder, as saved in a checkpoint."""

    model: nn.Module
    encoder: checkpoint.Encoder

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return checkpoint.score_rows(self.model, self.encoder, rows)


@dataclass
class MeanPredictor:
    """The fitted Blend: members' probabilities averaged."""

    members: list[Predictor]
    encoder: checkpoint.Encoder = field(init=False)

    def __post_init__(self) -> None:
        self.encoder = self.members[0].encoder

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        return np.mean([m.predict_proba(rows) for m in self.members], axis=0)


def load_predictor(path: str | Path) -> Predictor:
    """A saved model file as a Predictor: a checkpoint (`.pt`, one network) or a fitted
    candidate saved with joblib (trees, linear models, blends)."""
    if Path(path).suffix == ".pt":
        return NetworkPredictor(*checkpoint.load(path))
    return joblib.load(path)
