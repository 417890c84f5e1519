"""Shared fixtures for the data tests: a small schema, and the real bank table read once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from components.data.loading import DerivedColumn, add_derived, read_table
from components.data.schema import LabelSpec, NumericRange, TableSchema

REPO = Path(__file__).resolve().parents[3]
BANK = REPO / "data" / "bank-additional-full.csv.gz"
SCENARIO = REPO / "configs" / "loan_marketing.yaml"


@pytest.fixture
def schema() -> TableSchema:
    """Two categorical and two numeric features, label `y` in {yes, no}."""
    return TableSchema(
        label=LabelSpec(column="y", positive="yes", negative="no"),
        categorical={"colour": ["red", "green", "blue"], "size": ["S", "M", "L"]},
        numeric={"age": NumericRange(min=0, max=120), "income": NumericRange(min=0)},
        nullable=["income"],
    )


@pytest.fixture(scope="session")
def scenario_data() -> dict:
    """The `data` block of the loan-marketing scenario YAML."""
    return yaml.safe_load(SCENARIO.read_text())["data"]


@pytest.fixture(scope="session")
def bank(scenario_data) -> pd.DataFrame:
    """The real bank table with the scenario's derived `year` column (read once)."""
    if not BANK.is_file():  # a fresh clone: fetch the DVC-tracked data first
        from pipelines.data_version import ensure_data

        ensure_data(BANK)
    table = read_table(BANK, scenario_data["separator"])
    derive = [DerivedColumn(**d) for d in scenario_data["derive"]]
    return add_derived(table, derive)
