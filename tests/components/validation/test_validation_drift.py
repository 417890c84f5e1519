"""drift_report: PSI ~0 for identical data, shifted columns flagged and ranked first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.data.schema import LabelSpec, NumericRange, TableSchema
from components.validation import drift_report
from components.validation.drift import severity

SCHEMA = TableSchema(
    label=LabelSpec(column="y", positive=1, negative=0),
    categorical={"colour": ["red", "green", "blue"]},
    numeric={"stable": NumericRange(), "moved": NumericRange()},
)


def _frame(
    rng: np.random.Generator, n: int, shift: float = 0.0, blue: float = 1 / 3
) -> pd.DataFrame:
    """Random table; `shift` moves the `moved` column, `blue` sets the share of 'blue'."""
    other = (1 - blue) / 2
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[other, other, blue]),
            "stable": rng.normal(0, 1, n),
            "moved": rng.normal(shift, 1, n),
        }
    )


def test_identical_frames_have_no_drift():
    reference = _frame(np.random.default_rng(0), 2000)
    report = drift_report(reference, {"same": reference.copy()}, SCHEMA)
    assert set(report["column"]) == {"colour", "stable", "moved"}
    assert report["psi"].abs().max() == pytest.approx(0.0, abs=1e-9)
    assert not report["shifted"].any()
    assert set(report["severity"]) == {"none"}


def test_shifted_numeric_column_is_flagged_and_ranked_first():
    rng = np.random.default_rng(1)
    reference = _frame(rng, 3000)
    report = drift_report(reference, {"target": _frame(rng, 3000, shift=1.5)}, SCHEMA)
    by_column = report.set_index("column")
    assert report.iloc[0]["column"] == "moved"
    assert by_column.loc["moved", "shifted"]
    assert by_column.loc["moved", "severity"] == "major"
    assert by_column.loc["moved", "psi"] > 10 * by_column.loc["stable", "psi"]
    assert by_column.loc["moved", "ks"] > 0.4
    assert by_column.loc["moved", "domain_mean"] - by_column.loc["moved", "reference_mean"] > 1
    assert not by_column.loc["stable", "shifted"]


def test_shifted_categorical_names_the_level():
    rng = np.random.default_rng(2)
    report = drift_report(_frame(rng, 3000), {"target": _frame(rng, 3000, blue=0.8)}, SCHEMA)
    colour = report.set_index("column").loc["colour"]
    assert colour["shifted"] and colour["kind"] == "categorical"
    assert colour["top_level"] == "blue"
    assert colour["tvd"] == pytest.approx(0.8 - 1 / 3, abs=0.05)


def test_rows_grouped_by_domain_in_given_order_and_sorted_by_psi():
    rng = np.random.default_rng(3)
    reference = _frame(rng, 1000)
    others = {"b": _frame(rng, 1000, shift=1), "a": _frame(rng, 1000, shift=2)}
    report = drift_report(reference, others, SCHEMA)
    assert list(dict.fromkeys(report["domain"])) == ["b", "a"]
    for _, group in report.groupby("domain"):
        assert group["psi"].is_monotonic_decreasing


def test_missing_or_empty_columns_are_skipped():
    rng = np.random.default_rng(4)
    reference = _frame(rng, 500)
    report = drift_report(reference, {"t": _frame(rng, 500).drop(columns="moved")}, SCHEMA)
    assert "moved" not in set(report["column"])
    assert drift_report(reference, {"t": reference.iloc[0:0]}, SCHEMA).empty


def test_severity_thresholds():
    assert [severity(x) for x in (0.05, 0.15, 0.5)] == ["none", "moderate", "major"]
