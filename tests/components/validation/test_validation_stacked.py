"""Tabular.validate_all: one GX run over the stacked splits' features, then each split's row
and label checks; a failure falls back to one full suite per split so messages name it."""

from __future__ import annotations

import pandas as pd

from components.modality import CheckPlan, MLPModel, TableData, Tabular


def tabular(schema) -> Tabular:
    data = TableData(
        path="rows.csv",
        domains={"source": "a", "intermediate": "b", "target": "c"},
        schema=schema.model_dump(),
    )
    return Tabular(data, MLPModel())


PLANS = [
    CheckPlan("source", labelled=True, several_classes=True),
    CheckPlan("intermediate", labelled=False),
    CheckPlan("target_test", labelled=True, min_rows=9),
]


def test_clean_splits_pass_with_one_shared_feature_run(schema, clean):
    splits = {"source": clean, "intermediate": clean.drop(columns="y"), "target_test": clean}
    results = tabular(schema).validate_all(splits, PLANS[:2])
    assert [r.domain for r in results] == ["source", "intermediate"]
    assert all(r.success for r in results), [r.failures for r in results]
    shared = results[0].raw["features_of_all_splits"]
    assert shared["success"] and shared == results[1].raw["features_of_all_splits"]
    assert results[0].rows == len(clean)


def test_split_checks_still_run_on_the_fast_path(schema, clean):
    """Features are clean, but the test split is below its row minimum: only it fails."""
    splits = {"source": clean, "intermediate": clean.drop(columns="y"), "target_test": clean}
    results = tabular(schema).validate_all(splits, PLANS)
    assert [r.success for r in results] == [True, True, False]
    assert "table has 8 rows, expected at least 9" in results[2].failures[0]


def test_a_bad_value_is_reported_against_its_own_split(schema, clean):
    bad = clean.assign(colour=["red"] * 7 + ["purple"])
    splits = {"source": clean, "intermediate": bad.drop(columns="y"), "target_test": clean}
    results = tabular(schema).validate_all(splits, PLANS[:2])
    assert results[0].success and not results[1].success
    assert results[1].domain == "intermediate"
    assert "column 'colour'" in results[1].failures[0] and "'purple'" in results[1].failures[0]
    assert "features_of_all_splits" not in results[1].raw  # the full per-split suite ran


def test_stacking_does_not_hide_a_column_one_split_lacks(schema, clean):
    splits = {"source": clean, "intermediate": clean.drop(columns=["y", "age"])}
    results = tabular(schema).validate_all(splits, PLANS[:2])
    assert results[0].success
    assert any("column 'age' is missing" in f for f in results[1].failures)
    assert pd.concat(splits.values()).shape[0] == 16  # inputs untouched
