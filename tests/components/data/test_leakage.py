"""The leakage guard on the real bank table: overlapping domain queries are refused with the
count of shared rows and both queries; exact duplicate feature rows between training splits
and the target test rows are counted and can be dropped."""

from __future__ import annotations

import pandas as pd
import pytest

from components.data.leakage import check_disjoint, drop_duplicates_of, duplicate_rows
from components.data.loading import split_domains
from components.data.splits import split_target
from components.errors import StepstoneError

FEATURES = ["age", "job", "marital", "education", "month", "campaign", "euribor3m"]


def test_shipped_queries_are_disjoint_including_the_target_parts(bank, scenario_data):
    queries = scenario_data["domains"]
    domains = split_domains(bank, queries)
    parts = split_target(domains["target"], "y", n_labelled=60, n_unlabelled=40, seed=0)
    splits = {
        "source": domains["source"],
        "intermediate": domains["intermediate"],
        "target_labelled": parts.labelled,
        "target_unlabelled": parts.unlabelled,
        "target_test": parts.test,
    }
    check_disjoint(splits, queries)  # no error


def test_overlapping_source_query_names_the_shared_rows_and_queries(bank, scenario_data):
    queries = {**scenario_data["domains"], "source": "year >= 2008"}
    domains = split_domains(bank, queries)
    shared_with_target = len(domains["target"])
    with pytest.raises(StepstoneError) as info:
        check_disjoint(domains, queries)
    message = str(info.value)
    assert "'year >= 2008'" in message and "'year == 2010'" in message
    assert (
        f"source ('year >= 2008') and target ('year == 2010') share {shared_with_target} row(s)"
        in message
    )
    assert f"share {len(domains['intermediate'])} row(s)" in message
    assert "intermediate" in message and "data.domains" in message


def test_target_parts_sharing_a_row_are_refused():
    target = pd.DataFrame({"row_id": [1, 2, 3, 4], "x": [0, 1, 2, 3]})
    with pytest.raises(StepstoneError, match=r"share 1 row\(s\), e.g. row_id 3"):
        check_disjoint(
            {"target_labelled": target.iloc[:3], "target_test": target.iloc[2:]},
            {"target_labelled": "year == 2010", "target_test": "year == 2010"},
        )


def test_missing_id_column_is_a_clear_error():
    with pytest.raises(StepstoneError, match="no 'row_id' column"):
        check_disjoint({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2]})}, {})


def test_duplicate_feature_rows_are_counted_and_dropped(bank, scenario_data):
    domains = split_domains(bank, scenario_data["domains"])
    test = domains["target"]
    train = {"source": domains["source"], "intermediate": domains["intermediate"]}
    # Plant 7 exact copies of source rows (new row ids) and 3 of intermediate rows in the test.
    planted = pd.concat(
        [
            test,
            domains["source"].head(7).assign(row_id=lambda f: f["row_id"] + 10**7),
            domains["intermediate"].tail(3).assign(row_id=lambda f: f["row_id"] + 2 * 10**7),
        ],
        ignore_index=True,
    )
    natural = duplicate_rows(train, test, FEATURES)
    counted = duplicate_rows(train, planted, FEATURES)
    assert counted["source"] >= natural["source"] + 7
    assert counted["intermediate"] >= natural["intermediate"] + 3

    kept = drop_duplicates_of(planted, train, FEATURES)
    assert duplicate_rows(train, kept, FEATURES) == {"source": 0, "intermediate": 0}
    assert not kept["row_id"].ge(10**7).any()
    assert len(kept) == len(drop_duplicates_of(test, list(train.values()), FEATURES))


def test_duplicates_match_across_int_and_float_columns():
    train = pd.DataFrame({"age": [30, 40], "job": ["a", "b"]})
    test = pd.DataFrame({"age": [30.0, float("nan"), 40.0], "job": ["a", "a", "c"]})
    assert duplicate_rows({"source": train}, test, ["age", "job"]) == {"source": 1}
    assert list(drop_duplicates_of(test, [train], ["age", "job"]).index) == [1, 2]
    with pytest.raises(StepstoneError, match=r"lack columns \['income'\]"):
        duplicate_rows({"source": train}, test, ["age", "income"])
