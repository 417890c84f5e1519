"""Test-wide setup: offline defaults before any library import, a bank-data slice, a small
table schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from components.data.schema import LabelSpec, NumericRange, TableSchema
from pipelines.settings import configure_offline

configure_offline()

REPO_ROOT = Path(__file__).resolve().parent.parent
BANK_CSV = REPO_ROOT / "data" / "bank-additional-full.csv.gz"


@pytest.fixture(scope="session")
def bank_slice() -> pd.DataFrame:
    """Every 8th row of the bank file: still in date order, so the years come out right
    (about 3,460 / 1,430 / 257 rows for 2008 / 2009 / 2010)."""
    if not BANK_CSV.exists():  # a fresh clone before `dvc pull`
        from pipelines.data_version import ensure_data

        ensure_data(BANK_CSV)
    return pd.read_csv(BANK_CSV, sep=";").iloc[::8].reset_index(drop=True)


@pytest.fixture
def schema() -> TableSchema:
    """Two categorical and two numeric features, label `y` in {yes, no}; `income` may be
    null."""
    return TableSchema(
        label=LabelSpec(column="y", positive="yes", negative="no"),
        categorical={"colour": ["red", "green", "blue"], "size": ["S", "M", "L"]},
        numeric={"age": NumericRange(min=0, max=120), "income": NumericRange(min=0)},
        nullable=["income"],
    )
