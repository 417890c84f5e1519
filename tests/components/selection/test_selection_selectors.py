"""from_scores ordering/chunking and the selectors on a synthetic source -> target shift."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from components.errors import StepstoneError
from components.selection import SELECTORS, Selection, SelectionSpec, select
from components.selection.base import COLUMNS, from_scores, jitter_chunks

# --- from_scores --------------------------------------------------------------------------


def _scored(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n) + 1000, rng.normal(size=n)


@pytest.mark.parametrize(
    "n, fraction, chunks", [(20, 0.3, 3), (50, 0.5, 4), (103, 0.5, 4), (7, 1.0, 7)]
)
def test_from_scores_keeps_the_top_fraction(n, fraction, chunks):
    ids, scores = _scored(n)
    table = from_scores(ids, scores, SelectionSpec(fraction=fraction, chunks=chunks)).table
    n_keep = round(fraction * n)
    assert list(table.columns) == COLUMNS and len(table) == n
    assert table["selected"].sum() == n_keep
    top = set(ids[np.argsort(scores)[-n_keep:]])
    assert set(table.loc[table["selected"], "row_id"]) == top
    # each row keeps its own score
    assert dict(zip(table["row_id"], table["score"])) == dict(zip(ids, scores))


def test_order_is_a_permutation_ranking_by_score():
    ids, scores = _scored(40, seed=1)
    table = from_scores(ids, scores, SelectionSpec(fraction=0.5, chunks=4)).table
    assert sorted(table["order"]) == list(range(40))
    assert table["order"].tolist() == list(range(40))  # the table is sorted by order
    assert (np.diff(table["score"]) >= 0).all()  # low score (source-like) first
    assert table.loc[table["order"] == 0, "row_id"].item() == ids[np.argmin(scores)]


@pytest.mark.parametrize(
    "n, fraction, chunks", [(50, 0.5, 4), (103, 0.5, 4), (30, 1.0, 7), (9, 0.5, 1)]
)
def test_chunks_are_monotone_and_near_equal(n, fraction, chunks):
    ids, scores = _scored(n, seed=2)
    table = from_scores(ids, scores, SelectionSpec(fraction=fraction, chunks=chunks)).table
    kept = table[table["selected"]]
    assert (table.loc[~table["selected"], "chunk"] == -1).all()
    assert sorted(kept["chunk"].unique()) == list(range(chunks))
    assert (np.diff(kept["chunk"].to_numpy()) >= 0).all()  # along the order
    sizes = kept["chunk"].value_counts()
    assert sizes.max() - sizes.min() <= 1
    # every selected row ranks above every unselected one
    unkept = table.loc[~table["selected"], "order"].to_numpy()
    assert kept["order"].min() > unkept.max(initial=-1)


def test_small_fraction_still_fills_every_chunk():
    ids, scores = _scored(100)
    table = from_scores(ids, scores, SelectionSpec(fraction=0.01, chunks=4)).table
    assert table["selected"].sum() == 4
    assert sorted(table.loc[table["selected"], "chunk"]) == [0, 1, 2, 3]


def test_selected_ids():
    ids, scores = np.array([7, 8, 9, 10]), np.array([0.9, 0.1, 0.5, 0.3])
    selection = from_scores(ids, scores, SelectionSpec(fraction=0.5, chunks=2))
    assert selection.selected_ids.tolist() == [9, 7]  # in order: less target-like first
    assert selection.table["chunk"].tolist() == [-1, -1, 0, 1]


def test_jitter_recuts_the_chunks_around_the_order():
    ids, scores = _scored(400, seed=3)
    plain = from_scores(ids, scores, SelectionSpec(fraction=0.5, chunks=4))
    spec = SelectionSpec(fraction=0.5, chunks=4, jitter=0.2)
    table = jitter_chunks(plain, spec, seed=0).table
    # the same rows, scores and order; only the chunks move
    assert table.drop(columns="chunk").equals(plain.table.drop(columns="chunk"))
    kept = table[table["selected"]]
    assert (table.loc[~table["selected"], "chunk"] == -1).all()
    sizes = kept["chunk"].value_counts()
    assert sorted(sizes.index) == [0, 1, 2, 3] and sizes.max() - sizes.min() <= 1
    # chunks overlap along the order, yet still advance along it
    assert (np.diff(kept["chunk"].to_numpy()) < 0).any()
    assert (np.diff(kept.groupby("chunk")["order"].mean().to_numpy()) > 0).all()
    moved = (kept["chunk"] != plain.table.loc[kept.index, "chunk"]).mean()
    assert 0.1 < moved < 0.9
    # seeded
    assert jitter_chunks(plain, spec, seed=0).table.equals(table)
    assert not jitter_chunks(plain, spec, seed=1).table.equals(table)


def test_zero_jitter_keeps_the_plain_cut():
    ids, scores = _scored(50)
    plain = from_scores(ids, scores, SelectionSpec(fraction=0.5, chunks=4))
    assert jitter_chunks(plain, SelectionSpec(fraction=0.5, chunks=4), seed=0) is plain


# --- selectors on a synthetic shift -------------------------------------------------------

D = 5
SOURCE_MEAN = np.zeros(D)
TARGET_MEAN = np.array([3.0, -2.25, 1.5, 0.0, 0.75])


@pytest.fixture(scope="module")
def shift():
    """Source and target clouds, and a pool whose row i sits at hidden position t[i] in [0, 1]
    on the line between the two means."""
    rng = np.random.default_rng(0)
    source = rng.normal(SOURCE_MEAN, 1.0, size=(300, D))
    target = rng.normal(TARGET_MEAN, 1.0, size=(300, D))
    t = rng.uniform(size=400)
    pool = (1 - t)[:, None] * SOURCE_MEAN + t[:, None] * TARGET_MEAN
    pool = pool + rng.normal(0.0, 0.5, size=pool.shape)
    return source, pool, target, np.arange(400) + 10_000, t


def _by_pool_row(selection, pool_ids):
    return selection.table.set_index("row_id").loc[pool_ids]


def test_discriminator_ranks_pool_by_position(shift):
    source, pool, target, ids, t = shift
    selection = select(source, pool, target, ids, SelectionSpec(method="discriminator"), seed=0)
    table = _by_pool_row(selection, ids)
    assert spearmanr(table["score"], t).statistic > 0.8
    chosen = table["selected"].to_numpy()
    assert chosen.sum() == 200
    assert t[chosen].mean() > t[~chosen].mean() + 0.3
    chunk_t = [t[(table["chunk"] == c).to_numpy()].mean() for c in range(4)]
    assert chunk_t == sorted(chunk_t)  # later chunks are more target-like
    assert ((table["score"] >= 0) & (table["score"] <= 1)).all()


def test_all_selects_every_row(shift):
    source, pool, target, ids, _ = shift
    table = select(source, pool, target, ids, SelectionSpec(method="all", fraction=0.2)).table
    assert table["selected"].all() and len(table) == len(ids)
    assert set(table["row_id"]) == set(ids)
    assert sorted(table["chunk"].value_counts()) == [100, 100, 100, 100]


def test_random_is_seeded(shift):
    source, pool, target, ids, _ = shift
    spec = SelectionSpec(method="random", fraction=0.25)
    a = select(source, pool, target, ids, spec, seed=1)
    b = select(source, pool, target, ids, spec, seed=1)
    c = select(source, pool, target, ids, spec, seed=2)
    assert len(a.selected_ids) == 100
    assert np.array_equal(a.selected_ids, b.selected_ids)
    assert set(a.selected_ids) != set(c.selected_ids)


def test_unknown_method_lists_valid_ones(shift):
    source, pool, target, ids, _ = shift
    with pytest.raises(StepstoneError, match="unknown selection.method 'magic'") as info:
        select(source, pool, target, ids, SelectionSpec(method="magic"))
    for name in SELECTORS:
        assert repr(name) in str(info.value)


def test_feature_width_mismatch_raises(shift):
    source, pool, target, ids, _ = shift
    with pytest.raises(StepstoneError, match="differ in shape"):
        select(source, pool[:, :3], target, ids, SelectionSpec())
    with pytest.raises(StepstoneError, match="differ in shape"):
        select(source, pool, target[:, :4], ids, SelectionSpec())


def test_pool_smaller_than_chunks_raises(shift):
    source, pool, target, ids, _ = shift
    with pytest.raises(StepstoneError, match="3 rows, fewer than selection.chunks=4"):
        select(source, pool[:3], target, ids[:3], SelectionSpec(chunks=4))


@pytest.mark.parametrize(
    "knob", [{"fraction": 0.0}, {"fraction": 1.01}, {"chunks": 0}, {"jitter": -0.1}]
)
def test_a_spec_outside_its_bounds_is_refused_before_selection(knob):
    with pytest.raises(ValidationError, match=next(iter(knob))):
        SelectionSpec(**knob)


def test_select_applies_the_jitter(shift):
    source, pool, target, ids, _ = shift
    plain = select(source, pool, target, ids, SelectionSpec(chunks=4), seed=5).table
    jittered = select(source, pool, target, ids, SelectionSpec(chunks=4, jitter=0.3), seed=5).table
    assert jittered["order"].equals(plain["order"]) and jittered["score"].equals(plain["score"])
    assert not jittered["chunk"].equals(plain["chunk"])
    # a re-cut reads only the order: with select()'s seed it is select()'s own cut (the first
    # of transit.draws), with another seed a different one
    spec = SelectionSpec(chunks=4, jitter=0.3)
    assert jitter_chunks(Selection(jittered), spec, seed=5).table.equals(jittered)
    assert (
        not jitter_chunks(Selection(jittered), spec, seed=6)
        .table["chunk"]
        .equals(jittered["chunk"])
    )
