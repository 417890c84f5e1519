"""The Amazon multi-domain reviews parser and table: tiny hand-written files, then the real data."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from components.data.amazon_reviews import (
    COLUMNS,
    DOMAINS,
    LABELS,
    SUBDIR,
    load_amazon_reviews,
    parse_reviews,
    prepare_amazon_reviews,
)
from components.errors import StepstoneError


def review(title: str, rating: str, text: str) -> str:
    """One raw block in the files' pseudo-XML layout (every tag on its own line)."""
    return (
        "<review>\n<unique_id>\nB0001:x:y\n</unique_id>\n<asin>\nB0001\n</asin>\n"
        "<product_name>\nA thing: Books\n</product_name>\n<product_type>\nbooks\n</product_type>\n"
        f"<helpful>\n\n</helpful>\n<rating>\n{rating}\n</rating>\n<title>\n{title}\n</title>\n"
        "<date>\nMay 1, 2005\n</date>\n<reviewer>\nA. Person\n</reviewer>\n"
        "<reviewer_location>\nSomewhere\n</reviewer_location>\n"
        f"<review_text>\n{text}\n</review_text>\n</review>\n"
    )


def write_tiny_root(root: Path, per_file: int = 2) -> Path:
    folder = root / SUBDIR
    folder.mkdir(parents=True)
    for domain in DOMAINS:
        for label in LABELS:
            rating = "5.0" if label == "positive" else "1.0"
            blocks = [review(f"{domain} {i}", rating, f"text {i}") for i in range(per_file)]
            with gzip.open(folder / f"{domain}_{label}.review.gz", "wt", encoding="utf-8") as f:
                f.write("".join(blocks))
    return root


def test_parse_keeps_unescaped_characters_and_inner_blank_lines():
    tricky = "If x < 3 & y > 2,  it <b>breaks</b>.\n\n\nStill   the same review. "
    raw = review("Great", "4.0", "plain text") + review("A <b> & c", "2.0", tricky)
    parsed = parse_reviews(raw)
    assert parsed == [
        {"title": "Great", "text": "plain text", "rating": 4.0},
        {"title": "A <b> & c", "text": tricky.strip(), "rating": 2.0},
    ]


def test_load_tiny_files_columns_labels_domains_ids(tmp_path):
    table = load_amazon_reviews(write_tiny_root(tmp_path))
    assert table.columns.tolist() == COLUMNS
    assert len(table) == 8 * 2
    assert table["review_id"].is_unique
    assert table["review_id"].iloc[:3].tolist() == [
        "books-pos-0001",
        "books-pos-0002",
        "books-neg-0001",
    ]
    assert table.groupby(["domain", "label"]).size().eq(2).all()
    assert set(table["domain"]) == set(DOMAINS)
    assert set(table.loc[table["rating"] == 5.0, "label"]) == {"positive"}
    assert set(table.loc[table["rating"] == 1.0, "label"]) == {"negative"}


def test_missing_file_names_it_and_the_fix(tmp_path):
    write_tiny_root(tmp_path)
    (tmp_path / SUBDIR / "dvd_negative.review.gz").unlink()
    with pytest.raises(StepstoneError, match=r"dvd_negative\.review\.gz.*STEPSTONE_DATA_ROOT"):
        load_amazon_reviews(tmp_path)


def test_prepare_writes_a_readable_table(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPSTONE_DATA_ROOT", str(write_tiny_root(tmp_path / "raw")))
    path = prepare_amazon_reviews(tmp_path / "out", seed=3)
    table = pd.read_parquet(path)
    pd.testing.assert_frame_equal(table, load_amazon_reviews(tmp_path / "raw"))


def test_real_data_has_1000_reviews_per_domain_and_label():
    table = load_amazon_reviews()  # $STEPSTONE_DATA_ROOT, as .ci/run sets it
    assert len(table) == 8000
    assert table.groupby(["domain", "label"]).size().eq(1000).all()
    assert table["review_id"].is_unique
    assert table["text"].str.len().gt(0).all()
    assert set(table.loc[table["label"] == "positive", "rating"]) <= {4.0, 5.0}
    assert set(table.loc[table["label"] == "negative", "rating"]) <= {1.0, 2.0}
