"""Shared fixtures: a tiny schema and a clean labelled frame that satisfies it."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from components.data.schema import LabelSpec, NumericRange, TableSchema

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def schema() -> TableSchema:
    """Two categorical and two numeric features; `income` may be null."""
    return TableSchema(
        label=LabelSpec(column="y", positive="yes", negative="no"),
        categorical={"colour": ["red", "green", "blue"], "size": ["S", "M", "L"]},
        numeric={"age": NumericRange(min=0, max=120), "income": NumericRange(min=0)},
        nullable=["income"],
    )


@pytest.fixture
def clean() -> pd.DataFrame:
    """Eight rows that pass every check, both classes present, one null in nullable `income`."""
    return pd.DataFrame(
        {
            "colour": ["red", "green", "blue", "red", "green", "blue", "red", "green"],
            "size": ["S", "M", "L", "S", "M", "L", "S", "M"],
            "age": [25, 31, 47, 52, 38, 29, 61, 44],
            "income": [30.0, 45.5, None, 52.0, 41.0, 28.0, 70.0, 39.0],
            "y": ["yes", "no", "no", "yes", "no", "no", "yes", "no"],
        }
    )
