"""An intermediate domain given as an ordered list of queries: the stepping stones are cut
in order and tagged, must be disjoint, and the `given` selector walks them one chunk each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.data.loading import STEP, split_domains
from components.errors import StepstoneError
from components.selection import SelectionSpec, SideInfo, select

TABLE = pd.DataFrame({"row_id": range(12), "month": [1, 2, 3, 4, 5, 6] * 2, "x": range(12)})
QUERIES = {
    "source": "month == 1",
    "intermediate": ["month == 4", "month == 2 or month == 3"],
    "target": "month >= 5",
}


def test_listed_queries_are_cut_in_order_and_tagged():
    pool = split_domains(TABLE, QUERIES)["intermediate"]
    assert pool["month"].tolist() == [4, 4, 2, 3, 2, 3]
    assert pool[STEP].tolist() == [0, 0, 1, 1, 1, 1]


def test_a_row_in_two_stones_is_refused():
    with pytest.raises(StepstoneError, match="match two of its queries"):
        split_domains(TABLE, {**QUERIES, "intermediate": ["month <= 3", "month == 3"]})


def test_a_bad_stone_query_names_its_position():
    with pytest.raises(StepstoneError, match=r"'intermediate\[1\]'"):
        split_domains(TABLE, {**QUERIES, "intermediate": ["month == 2", "nope >"]})


def test_given_selector_keeps_every_row_one_chunk_per_stone():
    steps = np.array([2, 0, 1, 0, 2, 1, 1])
    rng = np.random.default_rng(0)
    source, pool, target = (
        rng.normal(size=(20, 3)),
        rng.normal(size=(7, 3)),
        rng.normal(size=(9, 3)),
    )
    ids = np.arange(100, 107)
    spec = SelectionSpec(method="given", chunks=3)
    table = select(source, pool, target, ids, spec, side=SideInfo(steps=steps)).table
    assert table["selected"].all()
    by_id = table.set_index("row_id")
    assert (by_id.loc[ids, "chunk"].to_numpy() == steps).all()
    assert table["chunk"].is_monotonic_increasing  # sorted by order: stone 0 first


def test_given_selector_needs_listed_stones():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2))
    with pytest.raises(StepstoneError, match="ordered list of queries"):
        select(x, x, x, np.arange(6), SelectionSpec(method="given", chunks=2))
