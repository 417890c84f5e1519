"""The table candidates on a small synthetic table: LightGBM is deterministic under a seed,
every recipe scores raw rows, TrAdaBoost outvotes a source whose labels are flipped."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from components.candidates import load_predictor
from components.candidates.names import TABLES as NAMES
from components.candidates.tables import TableContext, table_candidates
from components.candidates.trees import tradaboost, tree_inputs
from components.data.preprocess import TabularPreprocessor, encode_labels
from components.models.tabular_mlp import MLPSpec, TabularMLP


def rows(schema, n: int, seed: int, flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    age = rng.uniform(20, 80, n)
    signal = (age - 50) / 10 + (colour == "red") * 1.5 + rng.normal(0, 0.7, n)
    y = (signal > 0) ^ flip
    return pd.DataFrame(
        {
            "row_id": np.arange(n) + seed * 10_000,
            "colour": colour,
            "size": rng.choice(["S", "M", "L"], n),
            "age": age,
            "income": rng.uniform(0, 100, n),
            "y": np.where(y, "yes", "no"),
        }
    )


@pytest.fixture
def context(schema):
    source, pool = rows(schema, 1500, 1), rows(schema, 600, 2)
    encoder = TabularPreprocessor.fit(source, schema)
    network = TabularMLP(encoder.cardinalities, len(encoder.means), MLPSpec())
    return TableContext(schema, source, pool, np.linspace(0, 1, len(pool)), network, encoder, 0)


def test_every_table_candidate_fits_and_scores_raw_rows(schema, context, tmp_path):
    candidates = table_candidates(context)
    assert tuple(c.name for c in candidates) == NAMES
    target, test = rows(schema, 60, 3), rows(schema, 300, 4)
    y = encode_labels(test, schema)
    for candidate in candidates:
        if not hasattr(candidate, "fit"):
            continue  # the blend needs the adapted network; the CV tests cover it
        predictor = candidate.fit(target)
        joblib.dump(predictor, tmp_path / f"{candidate.name}.joblib")
        p = load_predictor(tmp_path / f"{candidate.name}.joblib").predict_proba(test)
        assert p.shape == (300,) and np.all((p >= 0) & (p <= 1)), candidate.name
        assert roc_auc_score(y, p) > 0.75, candidate.name


def test_lightgbm_is_deterministic_under_a_seed(schema, context):
    target, test = rows(schema, 60, 3), rows(schema, 300, 4)
    (pooled,) = [c for c in table_candidates(context) if c.name == "lgbm_pooled"]
    first, second = pooled.fit(target).predict_proba(test), pooled.fit(target).predict_proba(test)
    np.testing.assert_array_equal(first, second)


def test_tradaboost_trusts_the_target_over_a_source_with_flipped_labels(schema):
    source = rows(schema, 1500, 1, flip=True)
    target, test = rows(schema, 80, 3), rows(schema, 400, 4)
    boosters, votes = tradaboost(
        tree_inputs(source, schema),
        encode_labels(source, schema),
        tree_inputs(target, schema),
        encode_labels(target, schema),
        seed=0,
        rounds=6,
        n_estimators=40,
    )
    assert len(boosters) == len(votes) == 3
    last = boosters[-1].predict_proba(tree_inputs(test, schema))[:, 1]
    assert roc_auc_score(encode_labels(test, schema), last) > 0.7
