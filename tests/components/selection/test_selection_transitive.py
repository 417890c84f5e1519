"""kernel, graph, ddtl and oracle on a synthetic shift where each pool row has a hidden position
between source and target; DDTL's indicator update; bad input fails before any training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from components.errors import StepstoneError
from components.selection import SelectionSpec, SideInfo, select
from components.selection.ddtl import annealed_threshold, indicator_update, selective_learning
from components.selection.graph import harmonic_positions
from components.selection.kernel import witness

torch.set_num_threads(1)
D = 5
TARGET_MEAN = np.array([3.0, -2.25, 1.5, 0.0, 0.75])


@pytest.fixture(scope="module")
def shift():
    """Source at 0, target at TARGET_MEAN; pool row i at hidden position t[i] on the line."""
    rng = np.random.default_rng(1)
    source = rng.normal(0.0, 1.0, size=(300, D))
    target = rng.normal(TARGET_MEAN, 1.0, size=(300, D))
    t = rng.uniform(size=400)
    pool = t[:, None] * TARGET_MEAN + rng.normal(0.0, 0.5, size=(400, D))
    labels = (source[:, 0] + source[:, 1] > 0).astype(np.int64)
    return source, pool, target, np.arange(400) + 5_000, t, labels


def _rho(selection, ids, t) -> float:
    table = selection.table.set_index("row_id").loc[ids]
    return spearmanr(table["order"], t).statistic


@pytest.mark.parametrize(
    "method, min_rho", [("kernel", 0.8), ("graph", 0.8), ("ddtl", 0.5), ("oracle", 0.999)]
)
def test_order_follows_hidden_position(shift, method, min_rho):
    source, pool, target, ids, t, labels = shift
    side = SideInfo(positions=t, source_labels=labels)
    selection = select(source, pool, target, ids, SelectionSpec(method=method), seed=0, side=side)
    assert _rho(selection, ids, t) > min_rho
    table = selection.table.set_index("row_id").loc[ids]
    chosen = table["selected"].to_numpy()
    assert chosen.sum() == 200 and t[chosen].mean() > t[~chosen].mean() + 0.2


def test_ddtl_works_without_any_labels_and_is_seeded(shift):
    source, pool, target, ids, t, _ = shift
    spec = SelectionSpec(method="ddtl", ddtl_steps=8)
    a = select(source, pool, target, ids, spec, seed=3)
    b = select(source, pool, target, ids, spec, seed=3)
    assert a.table.equals(b.table)
    assert _rho(a, ids, t) > 0.5


def test_kernel_witness_sign_and_shuffle_invariance(shift):
    source, pool, target, _, t, _ = shift
    w = witness(source, pool, target, n_features=256, seed=0)
    assert w[t > 0.8].mean() > 0 > w[t < 0.2].mean()
    perm = np.random.default_rng(0).permutation(len(pool))
    assert np.allclose(witness(source, pool[perm], target, 256, 0), w[perm], atol=1e-5)


def test_kernel_scales_linearly_to_a_large_pool():
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(100_000, 8)).astype(np.float32)
    spec = SelectionSpec(method="kernel", rff_features=128)
    source, target = rng.normal(size=(500, 8)), rng.normal(1.0, size=(500, 8))
    table = select(source, pool, target, np.arange(100_000), spec).table
    assert len(table) == 100_000 and table["selected"].sum() == 50_000


def test_indicator_update_keeps_rows_under_the_threshold():
    losses = np.array([0.1, 2.0, 0.5, 0.49, 3.0])
    assert indicator_update(losses, 0.5).tolist() == [True, False, False, True, False]
    kept = [indicator_update(losses, annealed_threshold(losses, r, 4)).sum() for r in range(4)]
    assert kept == sorted(kept) and kept[-1] == len(losses) and kept[0] < len(losses)


def test_ddtl_admits_more_rows_each_round(shift):
    source, pool, target, _, _, labels = shift
    spec = SelectionSpec(method="ddtl", ddtl_steps=5, ddtl_epochs=2)
    entry, _, kept = selective_learning(
        source, pool, target, spec, 0, SideInfo(source_labels=labels)
    )
    assert kept == sorted(kept) and kept[-1] == len(source) + len(pool) and kept[0] < kept[-1]
    # every pool row has entered by the last round, spread over several rounds
    assert entry.max() < 5 and len(np.unique(entry)) >= 3


def test_oracle_without_positions_says_how_to_fix(shift):
    source, pool, target, ids, _, _ = shift
    with pytest.raises(StepstoneError, match="set selection.truth"):
        select(source, pool, target, ids, SelectionSpec(method="oracle"))


@pytest.mark.parametrize("method", ["kernel", "ddtl", "discriminator", "oracle"])
def test_bad_pools_fail_before_training(shift, method, monkeypatch):
    source, pool, target, ids, t, _ = shift
    monkeypatch.setattr(torch.optim, "Adam", None)  # any training attempt would crash differently
    spec = SelectionSpec(method=method, chunks=4)
    with pytest.raises(StepstoneError, match="differ in shape"):
        select(source, pool[:, :3], target, ids, spec, side=SideInfo(positions=t))
    with pytest.raises(StepstoneError, match="pool is empty"):
        select(source, pool[:0], target, ids[:0], spec, side=SideInfo(positions=t[:0]))
    with pytest.raises(StepstoneError, match="fewer than selection.chunks=4"):
        select(source, pool[:3], target, ids[:3], spec, side=SideInfo(positions=t[:3]))
    with pytest.raises(StepstoneError, match="positions has 400 entries for 3 rows"):
        select(source, pool[:3], target, ids[:3], spec, side=SideInfo(positions=t))


def test_graph_positions_interpolate_along_a_chain_and_stay_finite_when_cut_off():
    # Points on a line: source at the left end, target at the right, the pool in between
    # (plus two far-away rows with no path to either anchor).
    line = np.linspace(0.0, 1.0, 60)[:, None]
    source, pool, target = line[:5], line[5:55], line[55:]
    far = np.array([[50.0], [50.1]])
    positions = harmonic_positions(
        source, np.concatenate([pool, far]), target, neighbours=2, components=5
    )
    inner = positions[:50]
    assert np.all(np.diff(inner) > 0)
    assert np.allclose(inner, (np.arange(5, 55) - 4) / (55 - 4), atol=0.01)  # linear in between
    assert np.allclose(positions[50:], 0.5, atol=1e-3)
