"""TabularPreprocessor fit/transform/round-trip and encode_labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from components.data.preprocess import Encoded, TabularPreprocessor, encode_labels
from components.data.schema import TableSchema
from components.errors import StepstoneError


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "size": rng.choice(["S", "M", "L"], size=n),
            "age": rng.normal(45, 12, size=n).round(),
            "income": rng.lognormal(3, 0.5, size=n),
            "y": rng.choice(["yes", "no"], size=n),
            "ignored": "whatever",
        }
    )


def test_fit_transform_shapes_and_dtypes(rows, schema):
    pre = TabularPreprocessor.fit(rows, schema)
    enc = pre.transform(rows)
    assert isinstance(enc, Encoded) and len(enc) == len(rows)
    assert enc.cat.shape == (len(rows), 2) and enc.cat.dtype == np.int64
    assert enc.num.shape == (len(rows), 2) and enc.num.dtype == np.float32
    assert pre.columns == ["colour", "size", "age", "income"]
    assert pre.cardinalities == [4, 4]  # three levels + the unseen index 0


def test_categories_map_to_schema_positions(schema):
    fit_rows = pd.DataFrame(
        {"colour": ["red", "red"], "size": ["S", "S"], "age": [1.0, 2.0], "income": [3.0, 4.0]}
    )
    pre = TabularPreprocessor.fit(fit_rows, schema)  # levels come from the schema, not the rows
    rows = pd.DataFrame(
        {
            "colour": ["red", "green", "blue", "purple", None],
            "size": ["L", "M", "S", "XL", "S"],
            "age": [1.0] * 5,
            "income": [1.0] * 5,
        }
    )
    cat = pre.transform(rows).cat
    assert cat[:, 0].tolist() == [1, 2, 3, 0, 0]  # unseen and missing -> 0
    assert cat[:, 1].tolist() == [3, 2, 1, 0, 1]


def test_numeric_standardised_on_fit_rows(rows, schema):
    fit_rows, other = rows.iloc[:150], rows.iloc[150:]
    pre = TabularPreprocessor.fit(fit_rows, schema)
    num = pre.transform(fit_rows).num.astype(np.float64)
    np.testing.assert_allclose(num.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(num.std(axis=0), 1.0, atol=1e-4)
    # the other rows use the fit rows' statistics, not their own
    expected = (other["age"] - fit_rows["age"].mean()) / fit_rows["age"].std(ddof=0)
    np.testing.assert_allclose(pre.transform(other).num[:, 0], expected, rtol=1e-5, atol=1e-5)
    assert pre.means["age"] == pytest.approx(fit_rows["age"].mean())


def test_constant_and_missing_numbers(schema):
    rows = pd.DataFrame(
        {"colour": "red", "size": "S", "age": [30.0] * 4, "income": [1.0, np.nan, 3.0, "n/a"]}
    )
    pre = TabularPreprocessor.fit(rows.assign(income=[1.0, np.nan, 3.0, np.nan]), schema)
    assert pre.scales["age"] == 1.0  # zero spread does not divide by zero
    num = pre.transform(rows).num
    assert np.isfinite(num).all()
    assert num[:, 0].tolist() == [0.0] * 4
    assert num[:, 1].tolist() == [-1.0, 0.0, 1.0, 0.0]  # missing/non-numeric -> the mean


def test_round_trip_through_json(rows, schema):
    pre = TabularPreprocessor.fit(rows.iloc[:120], schema)
    state = json.loads(json.dumps(pre.to_dict()))
    again = TabularPreprocessor.from_dict(state)
    assert again == pre
    a, b = pre.transform(rows), again.transform(rows)
    assert np.array_equal(a.cat, b.cat) and np.array_equal(a.num, b.num)


def test_transform_missing_column_names_it(rows, schema):
    pre = TabularPreprocessor.fit(rows, schema)
    with pytest.raises(StepstoneError) as info:
        pre.transform(rows.drop(columns=["income", "size"]))
    message = str(info.value)
    assert "'size'" in message and "'income'" in message
    assert "lack columns ['size', 'income']" in message


def test_encoded_take_and_concat(rows, schema):
    enc = TabularPreprocessor.fit(rows, schema).transform(rows)
    part = enc.take(np.array([5, 2]))
    assert np.array_equal(part.cat, enc.cat[[5, 2]]) and np.array_equal(part.num, enc.num[[5, 2]])
    both = Encoded.concat([enc.take(np.arange(3)), enc.take(np.arange(3, 10))])
    assert np.array_equal(both.cat, enc.cat[:10]) and np.array_equal(both.num, enc.num[:10])


def test_encode_labels(schema):
    y = encode_labels(pd.DataFrame({"y": ["yes", "no", "no", "yes", "no"]}), schema)
    assert y.dtype == np.float32
    assert y.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_encode_labels_positive_is_one_whatever_its_value():
    schema = TableSchema.model_validate(
        {"label": {"column": "churn", "positive": 0, "negative": 1}}
    )
    assert encode_labels(pd.DataFrame({"churn": [0, 1, 1]}), schema).tolist() == [1.0, 0.0, 0.0]


def test_encode_labels_rejects_other_values(schema):
    with pytest.raises(StepstoneError) as info:
        encode_labels(pd.DataFrame({"y": ["yes", "maybe", "no"]}), schema)
    message = str(info.value)
    assert "'y'" in message and "'maybe'" in message and "'no', 'yes'" in message


def test_encode_labels_rejects_missing_values(schema):
    with pytest.raises(StepstoneError, match="missing values"):
        encode_labels(pd.DataFrame({"y": ["yes", None, "no"]}), schema)


def test_real_bank_schema_covers_every_level(bank, scenario_data):
    schema = TableSchema.model_validate(scenario_data["schema"])
    source, target = bank[bank["year"] == 2008], bank[bank["year"] == 2010]
    pre = TabularPreprocessor.fit(source, schema)
    enc = pre.transform(target)
    assert enc.cat.shape == (2058, 10) and enc.num.shape == (2058, 9)
    assert (enc.cat > 0).all()  # the declared levels cover the data: nothing unseen
    y = encode_labels(target, schema)
    assert y.sum() == (target["y"] == "yes").sum() and 0 < y.sum() < len(y)


def test_fit_names_missing_schema_columns(schema):
    with pytest.raises(StepstoneError, match=r"\['colour', 'size'\]"):
        TabularPreprocessor.fit(pd.DataFrame({"age": [1.0], "income": [2.0]}), schema)
