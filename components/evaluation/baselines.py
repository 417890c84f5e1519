"""Reference models the transfer pipeline must beat: logistic regressions on one-hot
categoricals and standardised numbers, trained on a chosen set of labelled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from components.data.preprocess import encode_labels
from components.data.schema import TableSchema


def logistic_baseline(rows: pd.DataFrame, schema: TableSchema, seed: int = 0) -> Pipeline:
    """Fit an L2-regularised logistic regression (C=1) on labelled `rows`."""
    features = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(schema.categorical)),
            ("numeric", StandardScaler(), list(schema.numeric)),
        ]
    )
    model = make_pipeline(features, LogisticRegression(max_iter=2000, random_state=seed))
    return model.fit(rows[schema.feature_columns], encode_labels(rows, schema))


def baseline_scores(
    arms: dict[str, pd.DataFrame], test: pd.DataFrame, schema: TableSchema, seed: int = 0
) -> dict[str, np.ndarray]:
    """P(positive) on `test` for a baseline trained on each arm's rows."""
    return {
        name: logistic_baseline(rows, schema, seed).predict_proba(test[schema.feature_columns])[
            :, 1
        ]
        for name, rows in arms.items()
    }
