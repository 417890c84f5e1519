"""The modality interface: everything that differs between tables, images and texts. The
stages, selectors, adaptation methods, transit paths, evaluation and registration are
written once against it; a new kind of data is one more implementation.

Rows are always a table (pandas), one row per example with a stable `row_id`: the user's
CSV for tables, a manifest of image files for images. An `Encoder` (fitted on the source
rows, saved in the checkpoint) turns rows into network inputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from components.validation.suites import DomainValidation

if TYPE_CHECKING:  # annotations only: a modality is read and validated without torch
    from torch import nn

    from components.models.rows import Inputs


class Encoder(Protocol):
    """Fitted input encoding: rows -> network inputs; plain-JSON state for the checkpoint."""

    @property
    def columns(self) -> list[str]: ...

    def transform(self, rows: pd.DataFrame) -> Inputs: ...

    def to_dict(self) -> dict: ...


@dataclass(frozen=True)
class CheckPlan:
    """What the validation of one split asks for beyond the modality's own expectations."""

    name: str
    labelled: bool
    min_rows: int = 1
    several_classes: bool = False
    required: dict[str, str] | None = None  # column -> the config key that names it


class Modality(ABC):
    """One kind of data. `metric` is the headline metric that model choice and promotion use."""

    kind: str
    metric: str

    @property
    @abstractmethod
    def label_column(self) -> str: ...

    @property
    @abstractmethod
    def feature_columns(self) -> list[str]:
        """The columns a model sees: two rows equal on them are the same example."""

    @abstractmethod
    def read(self, path: Path) -> pd.DataFrame:
        """All rows of the user's data (a table, a manifest), with a `row_id` column."""

    def counts(self, rows: pd.DataFrame) -> dict[str, int]:
        """Numbers about one split worth logging (texts cut at the encoder's length); none
        by default."""
        return {}

    def digest_files(self, rows: pd.DataFrame) -> list[Path]:
        """Files besides the data path whose bytes identify the data version (none for tables)."""
        return []

    @abstractmethod
    def validate(self, rows: pd.DataFrame, plan: CheckPlan) -> DomainValidation:
        """Great Expectations checks of one split; reports problems, never raises on bad data."""

    def validate_all(
        self, splits: dict[str, pd.DataFrame], plans: list[CheckPlan]
    ) -> list[DomainValidation]:
        """Every planned split's checks, in plan order (one `validate` each by default)."""
        return [self.validate(splits[plan.name], plan) for plan in plans]

    @property
    def encoder_learns_inputs(self) -> bool:
        """Whether the encoder also learns from the inputs (never the labels) of the run's
        other non-test rows: pool, labelled and unlabelled target (a TF-IDF vocabulary)."""
        return False

    @abstractmethod
    def fit_encoder(self, source: pd.DataFrame, inputs: pd.DataFrame | None = None) -> Encoder:
        """The encoder fitted on the source rows (and `inputs`, when it learns from them)."""

    @abstractmethod
    def labels(self, encoder: Encoder, rows: pd.DataFrame) -> np.ndarray:
        """Training targets: {0, 1} floats for binary, class indices for k classes."""

    @abstractmethod
    def build_model(self, encoder: Encoder, seed: int) -> nn.Module: ...

    @abstractmethod
    def metrics(self, y: np.ndarray, proba: np.ndarray) -> dict[str, float]: ...

    @abstractmethod
    def intervals(
        self, y: np.ndarray, proba: np.ndarray, n_boot: int, alpha: float, seed: int
    ) -> dict[str, tuple[float, float]]: ...

    def candidates(
        self,
        source: pd.DataFrame,
        pool: pd.DataFrame,
        pool_score: np.ndarray,
        network: nn.Module,
        encoder: Encoder,
        seed: int,
    ) -> list:
        """Candidates besides the adapted network (components.candidates), given the source
        rows, the intermediate pool with the selector's score per row, the source network and
        its encoder. None by default: the adapted network is the only one."""
        return []

    def explain(
        self,
        rows: dict[str, pd.DataFrame],
        predict: Callable[[pd.DataFrame], np.ndarray],
        seed: int,
    ) -> dict[str, pd.DataFrame | str]:
        """Reports on what the registered model relies on, from its probabilities
        (`predict`) on the training domains' rows (`source`, `intermediate`, `target`: never
        test rows), logged as evaluation/<name> (a .json table or a .md text). None by default."""
        return {}

    @abstractmethod
    def proba_of(self, output: pd.DataFrame) -> np.ndarray:
        """Probabilities (or one-hot labels) back from a served model's answer, for metrics."""
