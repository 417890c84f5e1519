"""Tests for the pivot report: a probe of the model's predictions, terms split by domain."""

import numpy as np
import pytest

from components.evaluation.pivots import pivot_markdown, pivot_table

FILLER = ["i", "really", "think", "this", "one", "was", "so", "very", "overall", "honestly"]


def corpus(n: int = 300, seed: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """Books reviews say "novel" / "plot", kitchen reviews "blender" / "leaks"; "great" and
    "terrible" occur in both. The 'model' predicts positive iff "great" and no "leaks"."""
    rng = np.random.default_rng(seed)
    texts, domains = [], []
    for i in range(n):
        domain = "books" if i % 2 == 0 else "kitchen"
        words = list(rng.choice(FILLER, size=4))
        words.append(rng.choice(["great", "terrible"]))
        if domain == "books":
            words.append(rng.choice(["novel", "plot", "novel plot"]))
        else:
            words.append("blender")
            if rng.random() < 0.4:
                words.append("leaks")
        rng.shuffle(words)
        texts.append(" ".join(words))
        domains.append(domain)
    predicted = np.array([int("great" in t.split() and "leaks" not in t.split()) for t in texts])
    return texts, domains, predicted


@pytest.fixture(scope="module")
def table():
    texts, domains, predicted = corpus()
    return pivot_table(texts, domains, predicted, source="books", target="kitchen", top=100)


def row(table, term):
    rows = table[table["term"] == term]
    assert len(rows) == 1, f"{term!r} not in the table"
    return rows.iloc[0]


def test_shared_sentiment_words_are_pivots_with_opposite_signs(table):
    great, terrible = row(table, "great"), row(table, "terrible")
    assert great["kind"] == terrible["kind"] == "pivot"
    assert great["weight"] > 0 and great["direction"] == "positive"
    assert terrible["weight"] < 0 and terrible["direction"] == "negative"
    assert 0.3 < great["df_source"] < 0.7 and 0.3 < great["df_target"] < 0.7


def test_domain_words_are_specific(table):
    leaks = row(table, "leaks")
    assert leaks["kind"] == "target-specific"
    assert leaks["direction"] == "negative" and leaks["weight"] < 0
    assert leaks["df_source"] == 0 and 0.25 < leaks["df_target"] < 0.55
    novel = row(table, "novel")
    assert novel["kind"] == "source-specific" and novel["df_target"] == 0
    assert row(table, "blender")["kind"] == "target-specific"


def test_probe_agrees_with_the_model(table):
    assert table.attrs["probe_agreement"] > 0.9


def test_sorted_by_kind_then_weight_and_capped_per_direction():
    texts, domains, predicted = corpus()
    table = pivot_table(texts, domains, predicted, "books", "kitchen", top=2)
    assert list(table.columns) == [
        "term",
        "kind",
        "weight",
        "direction",
        "df_source",
        "df_target",
    ]
    assert table.groupby(["kind", "direction"]).size().max() == 2
    order = {"pivot": 0, "source-specific": 1, "target-specific": 2}
    keys = list(zip(table["kind"].map(order), -table["weight"].abs()))
    assert keys == sorted(keys)
    assert table.attrs["probe_agreement"] > 0.9


def test_probabilities_are_binarised_at_one_half(table):
    texts, domains, predicted = corpus()
    proba = np.where(predicted == 1, 0.8, 0.3)
    again = pivot_table(texts, domains, proba, source="books", target="kitchen", top=100)
    assert again.equals(table)


def test_tighter_ratio_moves_a_lopsided_pivot_out():
    texts, domains, predicted = corpus()
    texts = [
        t + " mostly" if d == "books" or i % 8 == 1 else t
        for i, (t, d) in enumerate(zip(texts, domains))
    ]  # "mostly": all books rows, 1 in 4 kitchen rows
    loose = pivot_table(texts, domains, predicted, "books", "kitchen", top=100, max_ratio=5)
    tight = pivot_table(texts, domains, predicted, "books", "kitchen", top=100, max_ratio=3)
    assert row(loose, "mostly")["kind"] == "pivot"
    assert row(tight, "mostly")["kind"] == "source-specific"


def test_bad_input_raises():
    texts, domains, predicted = corpus(60)
    with pytest.raises(ValueError, match="at least one"):
        pivot_table([], [], np.array([]), "books", "kitchen")
    with pytest.raises(ValueError, match="length"):
        pivot_table(texts, domains[:-1], predicted, "books", "kitchen")
    with pytest.raises(ValueError, match="length"):
        pivot_table(texts, domains, predicted[:-1], "books", "kitchen")
    with pytest.raises(ValueError, match="'dvd'"):
        pivot_table(texts, domains, predicted, "books", "dvd")
    with pytest.raises(ValueError, match="'dvd'"):
        pivot_table(texts, domains, predicted, "dvd", "kitchen")
    with pytest.raises(ValueError, match="single class"):
        pivot_table(texts, domains, np.ones(len(texts), dtype=int), "books", "kitchen")


def test_markdown_has_a_section_per_kind(table):
    md = pivot_markdown(table)
    assert md.startswith("## Pivot report")
    agreement = f"{100 * table.attrs['probe_agreement']:.1f}%"
    assert agreement in md.split("\n\n")[1]
    for title in [
        "### Pivots (shared by books and kitchen)",
        "### Source-specific (books)",
        "### Target-specific (kitchen)",
    ]:
        assert title in md
    assert "| great | positive |" in md
    assert "| leaks | negative |" in md.split("### Target-specific")[1]
    assert "| term | direction | weight | df books | df kitchen |" in md
