"""The text candidates without transfer, on the source encoder's TF-IDF features: logistic
regression on the source reviews alone (the classic cross-domain floor), on the labelled
target rows alone, and on both pooled; and the blend of the adapted network with the pooled
regression."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from components.candidates.base import Blend, Candidate
from components.data.texts import TfidfEncoder


@dataclass
class TfidfLinear:
    """A logistic regression on TF-IDF rows; class probabilities [n, k] over every declared
    class (a class absent from the training rows gets probability 0)."""

    classifier: LogisticRegression
    encoder: TfidfEncoder

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        seen = self.classifier.predict_proba(self.encoder.transform(rows))
        proba = np.zeros((len(rows), len(self.encoder.classes)), dtype=np.float32)
        proba[:, self.classifier.classes_] = seen
        return proba


def text_candidates(
    source: pd.DataFrame, encoder: TfidfEncoder, label_column: str, seed: int
) -> list[Candidate | Blend]:
    """Every text candidate (names.TEXTS, in that order). Pool rows are not used: their labels
    may be hidden (data.pool_labels: false)."""

    def linear(rows: pd.DataFrame) -> TfidfLinear:
        classifier = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
        classifier.fit(encoder.transform(rows), encoder.labels(rows, label_column))
        return TfidfLinear(classifier, encoder)

    def pooled(target: pd.DataFrame) -> TfidfLinear:
        return linear(pd.concat([source, target], ignore_index=True))

    fit = functools.partial(Candidate, parallel=True)  # no global random state: side by side
    return [
        fit("tfidf_lr_target_only", False, linear),
        fit("tfidf_lr_source_only", False, lambda t: linear(source), uses_target=False),
        fit("tfidf_lr_pooled", False, pooled),
        Blend("blend", ("transfer", "tfidf_lr_pooled")),
    ]
