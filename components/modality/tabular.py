"""Tables: a CSV with a binary label, categorical and numeric columns declared in the
schema; an MLP with an embedding per categorical column; AUC and lift; logistic and
LightGBM baselines and tree transfer recipes as candidates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from components.data.loading import add_derived, read_table
from components.data.preprocess import TabularPreprocessor, encode_labels
from components.evaluation.metrics import binary_metrics, bootstrap_ci
from components.modality.base import CheckPlan, Modality
from components.modality.specs import MLPModel, TableData
from components.validation.suites import DomainValidation, validate_domain

# torch, LightGBM and the candidates are imported where a network or a candidate is built:
# reading and validating a table (`stepstone validate`) needs none of them.
if TYPE_CHECKING:
    from torch import nn


class Tabular(Modality):
    kind, metric = "tabular", "auc"

    def __init__(self, data: TableData, model: MLPModel):
        self.data, self.model = data, model
        self.schema = data.schema_

    @property
    def label_column(self) -> str:
        return self.schema.label.column

    @property
    def feature_columns(self) -> list[str]:
        return self.schema.feature_columns

    def read(self, path: Path) -> pd.DataFrame:
        table = read_table(path, self.data.separator)
        table = table.drop(columns=[c for c in self.data.drop if c in table.columns])
        return add_derived(table, self.data.derive)

    def validate(
        self, rows: pd.DataFrame, plan: CheckPlan, *, features: bool = True
    ) -> DomainValidation:
        return validate_domain(
            rows,
            self.schema,
            plan.name,
            labelled=plan.labelled,
            min_rows=plan.min_rows,
            require_both_classes=plan.several_classes,
            required=plan.required,
            features=features,
        )

    def validate_all(
        self, splits: dict[str, pd.DataFrame], plans: list[CheckPlan]
    ) -> list[DomainValidation]:
        """One GX run checks the feature columns of all splits stacked (GX's cost grows with
        the expectations, hardly with the rows), then each split gets its row and label checks.
        When the stacked run fails, every split runs its full suite, so each message names
        the split it is about."""
        stacked = pd.concat([splits[plan.name] for plan in plans], ignore_index=True)
        shared = validate_domain(stacked, self.schema, "all splits", labelled=False)
        if not shared.success:
            return super().validate_all(splits, plans)
        return [
            replace(own, raw={"split": own.raw, "features_of_all_splits": shared.raw})
            for own in (self.validate(splits[p.name], p, features=False) for p in plans)
        ]

    def fit_encoder(
        self, source: pd.DataFrame, inputs: pd.DataFrame | None = None
    ) -> TabularPreprocessor:
        return TabularPreprocessor.fit(source, self.schema)

    def labels(self, encoder, rows: pd.DataFrame) -> np.ndarray:
        return encode_labels(rows, self.schema)

    def build_model(self, encoder: TabularPreprocessor, seed: int) -> nn.Module:
        from components.models.spec import MLPSpec
        from components.models.tabular_mlp import TabularMLP

        spec = MLPSpec(**self.model.model_dump(exclude={"kind"}))
        return TabularMLP(encoder.cardinalities, len(encoder.means), spec)

    def metrics(self, y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
        return binary_metrics(y, proba)

    def intervals(self, y, proba, n_boot, alpha, seed):
        return bootstrap_ci(y, proba, n_boot=n_boot, alpha=alpha, seed=seed)

    def candidates(self, source, pool, pool_score, network, encoder, seed):
        """Logistic regressions and LightGBM without transfer, and the transfer recipes for
        tables (components.candidates.tables)."""
        from components.candidates.tables import TableContext, table_candidates

        context = TableContext(self.schema, source, pool, pool_score, network, encoder, seed)
        return table_candidates(context)

    def proba_of(self, output: pd.DataFrame) -> np.ndarray:
        return output["score"].to_numpy()
