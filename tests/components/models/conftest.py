"""A small schema and a learnable synthetic table: the label depends on `x1` and `colour`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from components.data.schema import LabelSpec, NumericRange, TableSchema

torch.set_num_threads(1)


@pytest.fixture
def schema() -> TableSchema:
    return TableSchema(
        label=LabelSpec(column="y", positive="yes", negative="no"),
        categorical={"colour": ["red", "green", "blue"], "size": ["S", "M", "L"]},
        numeric={"x1": NumericRange(), "x2": NumericRange()},
    )


@pytest.fixture
def table() -> pd.DataFrame:
    """600 rows; y = yes iff x1 + 1.5 * [colour == red] + noise > 0.5. `size` and `x2` are noise."""
    rng = np.random.default_rng(0)
    n = 600
    colour = rng.choice(["red", "green", "blue"], size=n)
    x1 = rng.normal(size=n)
    signal = x1 + 1.5 * (colour == "red") + 0.3 * rng.normal(size=n)
    return pd.DataFrame(
        {
            "colour": colour,
            "size": rng.choice(["S", "M", "L"], size=n),
            "x1": x1 * 10 + 50,  # off-scale on purpose: the preprocessor standardises it
            "x2": rng.normal(size=n),
            "y": np.where(signal > 0.5, "yes", "no"),
        }
    )
