"""The table candidates: logistic regressions and LightGBM without transfer (target rows
alone, all labelled rows pooled, pooled with domain-balanced weights), and transfer recipes
for tables: instance transfer with trees (pool rows weighted by the selector's score;
TrAdaBoost), feature transfer (the source network's embeddings as extra features), and
blends: the adapted network with pooled LightGBM, and with the tree recipes and the pooled
logistic regression as well."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from torch import nn

from components.candidates.base import Blend, Candidate
from components.candidates.linear import LinearModel, logistic_baseline
from components.candidates.trees import SMALL, TreeModel, fit_booster, tradaboost, tree_inputs
from components.data.preprocess import TabularPreprocessor, encode_labels
from components.data.schema import TableSchema
from components.models.training import embed


@dataclass
class SourceFeatures:
    """The source network's penultimate features of raw rows (frozen; fitted on source only)."""

    model: nn.Module
    encoder: TabularPreprocessor

    def __call__(self, rows: pd.DataFrame) -> np.ndarray:
        return embed(self.model, self.encoder.transform(rows))


@dataclass(frozen=True)
class TableContext:
    """What table candidates learn from besides the labelled target rows: labelled source
    rows, the intermediate pool (used for training only where it is labelled) with the
    selector's score per pool row (higher = more target-like), the source network and its
    encoder."""

    schema: TableSchema
    source: pd.DataFrame
    pool: pd.DataFrame
    pool_score: np.ndarray
    network: nn.Module
    encoder: TabularPreprocessor
    seed: int = 0

    @property
    def others(self) -> list[pd.DataFrame]:
        """Labelled rows from other domains: the source, and the pool where it is labelled."""
        label = self.schema.label.column
        labelled_pool = label in self.pool.columns and self.pool[label].notna().all()
        return [self.source, self.pool] if labelled_pool and len(self.pool) else [self.source]


def table_candidates(ctx: TableContext) -> list[Candidate | Blend]:
    """Every table candidate (names.TABLES, in that order)."""
    schema, seed, enc = ctx.schema, ctx.seed, ctx.encoder
    others = pd.concat(ctx.others, ignore_index=True)
    features = SourceFeatures(ctx.network, ctx.encoder)

    def linear(rows: pd.DataFrame) -> LinearModel:
        return LinearModel(logistic_baseline(rows, schema, seed), schema.feature_columns, enc)

    @functools.cache
    def others_inputs(with_features: bool) -> pd.DataFrame:
        """The other domains' tree inputs, built once for every fold's fit."""
        return tree_inputs(others, schema, features if with_features else None)

    y_others = encode_labels(others, schema)

    def trees(target, pool=True, weight=None, with_features=False, **params) -> TreeModel:
        """LightGBM on the target rows, after the other domains' rows when `pool`."""
        extra = features if with_features else None
        x, y = tree_inputs(target, schema, extra), encode_labels(target, schema)
        if pool:
            x = pd.concat([others_inputs(with_features), x], ignore_index=True)
            y = np.r_[y_others, y]
        booster = fit_booster(x, y, seed, weight, **params)
        return TreeModel([booster], [1.0], schema, enc, extra)

    def balanced(target: pd.DataFrame) -> TreeModel:
        parts = [*ctx.others, target]
        weight = np.concatenate([np.full(len(p), 1.0 / len(p)) for p in parts])
        return trees(target, weight=weight / weight.mean())

    def weighted(target: pd.DataFrame) -> TreeModel:
        """Source rows weight 1; pool rows 1 + 2 q, q the selector score's quantile in the
        pool (mean 2); target rows 3."""
        parts = [np.ones(len(ctx.source))]
        if len(ctx.others) > 1:
            parts.append(1.0 + 2.0 * rankdata(ctx.pool_score) / len(ctx.pool_score))
        weight = np.concatenate([*parts, np.full(len(target), 3.0)])
        return trees(target, weight=weight)

    def boosted(target: pd.DataFrame) -> TreeModel:
        boosters, votes = tradaboost(
            others_inputs(False),
            y_others,
            tree_inputs(target, schema),
            encode_labels(target, schema),
            seed,
            rounds=4,
            n_estimators=60,
            learning_rate=0.1,
        )
        return TreeModel(boosters, votes, schema, enc)

    # Trees and linear models use no global random state: their fits may run side by side.
    fit = functools.partial(Candidate, parallel=True)
    return [
        fit("target_only", False, linear),
        fit("source_only", False, lambda target: linear(others), uses_target=False),
        fit("pooled", False, lambda target: linear(pd.concat([others, target], ignore_index=True))),
        fit("lgbm_target_only", False, lambda target: trees(target, pool=False, **SMALL)),
        fit("lgbm_pooled", False, trees),
        fit("lgbm_balanced", False, balanced),
        fit("lgbm_weighted", True, weighted),
        fit("tradaboost", True, boosted),
        fit("lgbm_source_features", True, lambda target: trees(target, with_features=True)),
        Blend("blend", ("transfer", "lgbm_pooled")),
        # `pooled` (a linear model beside three tree models and a network) was added after the
        # loan benchmark's CV predictions, replayed offline over seeds 0-9, scored the five-way
        # mean 0.002 AUC above the four-way one (README: How the registered model is chosen).
        Blend(
            "blend_all",
            ("transfer", "lgbm_pooled", "lgbm_weighted", "lgbm_source_features", "pooled"),
        ),
    ]
