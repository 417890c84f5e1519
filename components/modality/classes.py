"""What modalities with a declared set of classes share (images, texts): the label spec,
accuracy with a bootstrap interval, and the served model's `label` answer read back."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import pandas as pd

from components.evaluation.accuracy import accuracy, accuracy_ci
from components.modality.base import CheckPlan, Modality
from components.validation.manifest import Examples, validate_examples
from components.validation.suites import DomainValidation


class Classified(Modality):
    """A modality whose data declares `data.label` (a ClassLabel); k-class accuracy."""

    metric = "accuracy"

    @property
    def label_column(self) -> str:
        return self.data.label.column

    @abstractmethod
    def examples(self) -> Examples:
        """The column that holds the examples and how to check one (manifest.Examples)."""

    def validate(self, rows: pd.DataFrame, plan: CheckPlan) -> DomainValidation:
        return validate_examples(
            rows,
            plan.name,
            self.examples(),
            self.label_column,
            self.data.label.classes,
            labelled=plan.labelled,
            min_rows=plan.min_rows,
            several_classes=plan.several_classes,
            required=plan.required,
        )

    def labels(self, encoder, rows: pd.DataFrame) -> np.ndarray:
        return encoder.labels(rows, self.label_column)

    def metrics(self, y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
        return accuracy(y, proba)

    def intervals(self, y, proba, n_boot, alpha, seed):
        return accuracy_ci(y, proba, n_boot=n_boot, alpha=alpha, seed=seed)

    def proba_of(self, output: pd.DataFrame) -> np.ndarray:
        index = {str(c): i for i, c in enumerate(self.data.label.classes)}
        labels = output["label"].astype(str).map(index).fillna(-1).to_numpy(dtype=np.int64)
        onehot = np.zeros((len(labels), len(index)), dtype=np.float32)
        onehot[labels >= 0, labels[labels >= 0]] = 1.0
        return onehot
