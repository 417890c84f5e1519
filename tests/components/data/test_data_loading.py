"""read_table, month_wraparound, add_derived and split_domains on hand-made and real tables."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from components.data.loading import (
    ROW_ID,
    DerivedColumn,
    add_derived,
    month_wraparound,
    read_table,
    split_domains,
)
from components.errors import StepstoneError

# --- read_table -------------------------------------------------------------------------


def test_read_table_adds_row_id_in_file_order(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b\n10;x\n20;y\n30;z\n40;w\n")
    table = read_table(path, separator=";")
    assert list(table.columns) == [ROW_ID, "a", "b"]
    assert table[ROW_ID].tolist() == [0, 1, 2, 3]
    assert table["a"].tolist() == [10, 20, 30, 40]
    assert table["b"].tolist() == ["x", "y", "z", "w"]


def test_read_table_reads_gzipped_csv(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n5,6\n"))
    table = read_table(path)
    assert table[ROW_ID].tolist() == [0, 1, 2]
    assert table["b"].tolist() == [2, 4, 6]


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope" / "missing.csv.gz"
    with pytest.raises(StepstoneError, match="not found") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_data_file(tmp_path):
    with pytest.raises(StepstoneError) as info:
        read_table(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    "name, payload",
    [
        ("garbage.csv.gz", b"\x13\x37" + np.random.default_rng(0).bytes(200)),  # not gzip at all
        ("binary.csv", b"\x00\xff\xfe" * 100),  # not UTF-8 text
        ("ragged.csv.gz", gzip.compress(b"a\n1\n2,3,4\n5\n")),  # rows wider than the header
    ],
)
def test_unreadable_file_names_the_path(tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(StepstoneError, match="cannot read") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_header_only_file_is_rejected(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with pytest.raises(StepstoneError, match="no data rows") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_zero_byte_file_names_the_path(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(StepstoneError) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_existing_row_id_column_is_rejected(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("row_id,a\n5,1\n6,2\n")
    with pytest.raises(StepstoneError, match="row_id"):
        read_table(path)


# --- month_wraparound / add_derived -------------------------------------------------------

MONTHS_2008 = ["may", "may", "jun", "jul", "aug", "oct", "nov", "dec", "dec"]
MONTHS_2009 = ["mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
MONTHS_2010 = ["mar", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov"]


def test_month_wraparound_counts_years():
    months = pd.Series(MONTHS_2008 + MONTHS_2009 + MONTHS_2010)
    years = month_wraparound(months, start=2008)
    expected = [2008] * len(MONTHS_2008) + [2009] * len(MONTHS_2009) + [2010] * len(MONTHS_2010)
    assert years.tolist() == expected
    assert years.dtype == np.int64


def test_month_wraparound_is_case_insensitive_and_defaults_to_zero():
    years = add_derived(
        pd.DataFrame({"m": ["NOV", "Dec", "jan", "Jan", "feb", "jan"]}),
        [DerivedColumn(name="year", kind="month_wraparound", column="m")],
    )["year"]
    assert years.tolist() == [0, 0, 1, 1, 1, 2]


def test_month_wraparound_rejects_non_month_values():
    with pytest.raises(StepstoneError, match="not month abbreviations") as info:
        month_wraparound(pd.Series(["may", "june", "jul", "13"]), start=2008)
    assert "'june'" in str(info.value) and "'13'" in str(info.value)


def test_month_wraparound_with_missing_month_raises_stepstone_error():
    with pytest.raises(StepstoneError):
        month_wraparound(pd.Series(["may", None, "jun"]), start=2008)


def test_add_derived_missing_column_names_it():
    table = pd.DataFrame({"mon": ["may", "jun"], "x": [1, 2]})
    spec = DerivedColumn(name="year", kind="month_wraparound", column="month", start=2008)
    with pytest.raises(StepstoneError) as info:
        add_derived(table, [spec])
    message = str(info.value)
    assert "'month'" in message and "'year'" in message
    assert "mon" in message  # lists the available columns


def test_add_derived_returns_a_copy():
    table = pd.DataFrame({"month": ["nov", "dec", "mar"]})
    out = add_derived(table, [DerivedColumn(name="year", kind="month_wraparound", column="month")])
    assert "year" in out.columns and "year" not in table.columns
    assert out["year"].tolist() == [0, 0, 1]


# --- split_domains ------------------------------------------------------------------------


def test_split_domains_cuts_and_reindexes():
    table = pd.DataFrame({"row_id": range(6), "year": [1, 1, 2, 2, 2, 3], "a.b": range(6)})
    domains = split_domains(table, {"src": "year == 1", "tgt": "year >= 2", "dots": "`a.b` > 3"})
    assert domains["src"]["row_id"].tolist() == [0, 1]
    assert domains["tgt"]["row_id"].tolist() == [2, 3, 4, 5]
    assert domains["tgt"].index.tolist() == [0, 1, 2, 3]
    assert domains["dots"]["row_id"].tolist() == [4, 5]


@pytest.mark.parametrize("query", ["no_such_column == 1", "year ==", "a.b > 3"])
def test_split_domains_bad_query_names_the_domain(query):
    table = pd.DataFrame({"year": [1, 2], "a.b": [3, 4]})
    with pytest.raises(StepstoneError) as info:
        split_domains(table, {"fine": "year == 1", "broken_domain": query})
    message = str(info.value)
    assert "'broken_domain'" in message and repr(query) in message
    assert "'fine'" not in message


# --- the real bank file -----------------------------------------------------------------


def test_real_bank_file_years(bank):
    assert bank[ROW_ID].tolist() == list(range(41188))
    assert bank["year"].value_counts().to_dict() == {2008: 27690, 2009: 11440, 2010: 2058}
    # years never go backwards in file order
    assert (np.diff(bank["year"].to_numpy()) >= 0).all()


def test_real_bank_domains_from_scenario(bank, scenario_data):
    domains = split_domains(bank, scenario_data["domains"])
    assert {k: len(v) for k, v in domains.items()} == {
        "source": 27690,
        "intermediate": 11440,
        "target": 2058,
    }
    # together they cover every row exactly once
    ids = np.concatenate([d[ROW_ID].to_numpy() for d in domains.values()])
    assert np.array_equal(np.sort(ids), np.arange(41188))
