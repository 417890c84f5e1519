"""Shared fixtures: a clean labelled frame that satisfies the test-wide `schema`."""

from __future__ import annotations

import pandas as pd
import pytest


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
