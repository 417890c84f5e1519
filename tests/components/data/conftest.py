"""Shared fixtures for the data tests: the scenario's data block and the real bank table, read
once (the small `schema` fixture is test-wide, in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from components.data.loading import DerivedColumn, add_derived, read_table

REPO = Path(__file__).resolve().parents[3]
BANK = REPO / "data" / "bank-additional-full.csv.gz"
SCENARIO = REPO / "configs" / "loan_marketing.yaml"


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
