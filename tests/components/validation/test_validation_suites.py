"""validate_domain on small frames (real GX, ephemeral context) and on a real bank slice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from components.data.schema import TableSchema
from components.validation import DomainValidation, drift_report, validate_domain

REPO = Path(__file__).resolve().parents[3]


def _only_failure(result: DomainValidation) -> str:
    """The single failure message, asserting validation failed for exactly one reason."""
    assert not result.success
    assert len(result.failures) == 1, result.failures
    return result.failures[0]


def test_clean_frame_passes(schema, clean):
    result = validate_domain(clean, schema, "source", labelled=True, require_both_classes=True)
    assert result.success, result.failures
    assert result.failures == []
    assert result.rows == len(clean)
    assert result.raw["success"] is True
    json.dumps(result.to_dict(include_raw=True))
    assert "raw" not in result.to_dict()


def test_unlabelled_domain_does_not_need_label(schema, clean):
    result = validate_domain(clean.drop(columns="y"), schema, "target", labelled=False)
    assert result.success, result.failures


def test_missing_column_is_reported_not_raised(schema, clean):
    message = _only_failure(validate_domain(clean.drop(columns="age"), schema, "s", labelled=True))
    assert "'age' is missing" in message


def test_required_column_names_the_config_key_that_asked_for_it(schema, clean):
    required = {"angle": "selection.truth"}
    message = _only_failure(
        validate_domain(clean, schema, "pool", labelled=True, required=required)
    )
    assert "'angle' is missing" in message and "selection.truth" in message
    clean["angle"] = 1.0
    assert validate_domain(clean, schema, "pool", labelled=True, required=required).success


def test_missing_label_column(schema, clean):
    message = _only_failure(validate_domain(clean.drop(columns="y"), schema, "s", labelled=True))
    assert "label column 'y' is missing" in message


def test_unknown_category(schema, clean):
    clean.loc[2, "colour"] = "purple"
    message = _only_failure(validate_domain(clean, schema, "s", labelled=True))
    assert "'colour'" in message and "'purple'" in message
    assert "data.schema.categorical.colour" in message


def test_null_in_non_nullable_column(schema, clean):
    clean["age"] = clean["age"].astype(float)
    clean.loc[0, "age"] = np.nan
    message = _only_failure(validate_domain(clean, schema, "s", labelled=True))
    assert "'age'" in message and "null" in message and "data.schema.nullable" in message


def test_out_of_range_number(schema, clean):
    clean.loc[1, "age"] = 150
    message = _only_failure(validate_domain(clean, schema, "s", labelled=True))
    assert "'age'" in message and "150" in message and "[0, 120]" in message


def test_text_in_numeric_column(schema, clean):
    clean["age"] = clean["age"].astype(str)
    message = _only_failure(validate_domain(clean, schema, "s", labelled=True))
    assert "'age' is not numeric" in message


def test_label_outside_the_two_classes(schema, clean):
    clean.loc[3, "y"] = "maybe"
    message = _only_failure(validate_domain(clean, schema, "s", labelled=True))
    assert "label column 'y'" in message and "'maybe'" in message


def test_empty_frame_fails(schema, clean):
    result = validate_domain(clean.iloc[0:0], schema, "target", labelled=True)
    assert "0 rows" in _only_failure(result)
    assert result.rows == 0


def test_frame_without_columns_fails_cleanly(schema):
    result = validate_domain(pd.DataFrame(), schema, "target", labelled=True)
    assert not result.success
    assert any("0 rows" in m for m in result.failures)
    assert sum("is missing" in m for m in result.failures) == 5  # 4 features + label


def test_one_class_target_fails_when_both_required(schema, clean):
    one_class = clean.assign(y="no")
    assert validate_domain(one_class, schema, "target", labelled=True).success
    result = validate_domain(one_class, schema, "target", labelled=True, require_both_classes=True)
    message = _only_failure(result)
    assert "label column 'y'" in message and "'yes'" in message


def test_min_rows(schema, clean):
    result = validate_domain(clean, schema, "target", labelled=True, min_rows=100)
    assert "8 rows" in _only_failure(result) and "100" in result.failures[0]


@pytest.fixture(scope="module")
def bank() -> tuple[TableSchema, pd.DataFrame]:
    """The scenario's schema and the real bank table (rows in date order, `duration` dropped)."""
    config = yaml.safe_load((REPO / "configs" / "loan_marketing.yaml").read_text())
    schema = TableSchema.model_validate(config["data"]["schema"])
    df = pd.read_csv(REPO / config["data"]["path"], sep=config["data"]["separator"])
    return schema, df.drop(columns=config["data"]["drop"])


def test_real_bank_slices_pass_the_scenario_schema(bank):
    schema, df = bank
    early, late = df.iloc[:3000], df.iloc[-3000:]
    result = validate_domain(early, schema, "source", labelled=True, require_both_classes=True)
    assert result.success, result.failures
    assert result.rows == 3000
    assert validate_domain(late, schema, "target", labelled=False).success


def test_real_bank_drift_between_2008_and_2010(bank):
    schema, df = bank
    report = drift_report(df.iloc[:3000], {"target": df.iloc[-3000:]}, schema)
    by_column = report.set_index("column")
    assert len(report) == len(schema.feature_columns)
    assert by_column.loc["euribor3m", "shifted"]  # interest rates collapsed after 2008
    assert by_column.loc["marital", "psi"] < by_column.loc["euribor3m", "psi"]
