"""TabularMLP shapes, seeded training that learns, class balancing, and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from components.data.preprocess import Encoded, TabularPreprocessor, encode_labels
from components.models import checkpoint
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.tabular_mlp import MLPSpec, TabularMLP
from components.models.training import embed, predict_proba

SPEC = MLPSpec(embedding_dim=3, hidden=(16, 8), dropout=0.1)
TRAIN = TrainSpec(epochs=20, batch_size=64, lr=1e-2)
CPU = torch.device("cpu")


def _encoded(table, schema, n_fit=400):
    pre = TabularPreprocessor.fit(table.iloc[:n_fit], schema)
    return pre, pre.transform(table), encode_labels(table, schema)


def _model(pre: TabularPreprocessor, n_numeric: int, seed: int = 0) -> TabularMLP:
    torch.manual_seed(seed)
    return TabularMLP(pre.cardinalities, n_numeric, SPEC)


def test_output_and_feature_shapes():
    torch.manual_seed(0)
    model = TabularMLP([4, 3, 6], 5, MLPSpec(embedding_dim=2, hidden=(12, 7))).eval()
    cat = torch.tensor([[0, 1, 5], [3, 2, 0], [1, 1, 1]])
    num = torch.randn(3, 5)
    assert model(cat, num).shape == (3,)
    assert model.features(cat, num).shape == (3, 7)
    # first trunk layer sees 3 embeddings of width 2 plus 5 numbers
    assert model.trunk[0].in_features == 3 * 2 + 5
    assert model.head.in_features == 7


def test_no_hidden_layers_means_raw_inputs_are_the_features():
    model = TabularMLP([4], 2, MLPSpec(embedding_dim=3, hidden=())).eval()
    x = Encoded(np.array([[1], [2]]), np.zeros((2, 2), dtype=np.float32))
    assert embed(model, x).shape == (2, 3 + 2)


def test_init_args_rebuild_the_same_shape():
    model = TabularMLP([4, 5], 3, MLPSpec(embedding_dim=2, hidden=(9,), dropout=0.3))
    again = TabularMLP.from_init_args(model.init_args())
    assert again.spec == model.spec
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in again.state_dict().items()} == shapes


def test_fit_is_deterministic_for_a_seed(table, schema):
    pre, x, y = _encoded(table, schema)
    data = Labelled.of(x.take(np.arange(400)), y[:400])
    a, b, c = _model(pre, 2), _model(pre, 2), _model(pre, 2)
    hist_a = fit(a, data, TrainSpec(epochs=3, batch_size=64, lr=1e-2), seed=5, device=CPU)
    hist_b = fit(b, data, TrainSpec(epochs=3, batch_size=64, lr=1e-2), seed=5, device=CPU)
    fit(c, data, TrainSpec(epochs=3, batch_size=64, lr=1e-2), seed=6, device=CPU)
    assert hist_a == hist_b
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # a different data-order / dropout seed gives different weights (the seed matters)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_fit_learns_a_learnable_problem(table, schema):
    pre, x, y = _encoded(table, schema)
    train, test = np.arange(400), np.arange(400, 600)
    model = _model(pre, 2)
    before = roc_auc_score(y[test], predict_proba(model, x.take(test)))
    history = fit(model, Labelled.of(x.take(train), y[train]), TRAIN, seed=0, device=CPU)
    assert [h["epoch"] for h in history] == list(range(TRAIN.epochs))
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert all(set(h) == {"epoch", "loss"} for h in history)  # no penalty term without one
    assert not model.training  # fit leaves the model in eval mode
    after = roc_auc_score(y[test], predict_proba(model, x.take(test)))
    assert after > 0.8 and after > before + 0.1


def test_fit_adds_the_penalty_to_the_loss(table, schema):
    pre, x, y = _encoded(table, schema)
    data = Labelled.of(x.take(np.arange(200)), y[:200])
    model = _model(pre, 2)
    history = fit(
        model,
        data,
        TrainSpec(epochs=2, batch_size=100),
        seed=0,
        device=CPU,
        penalty=lambda m: 0.0 * m.head.weight.sum() + 3.0,
    )
    assert [h["penalty"] for h in history] == [3.0, 3.0]


def test_predict_proba_is_a_probability_per_row(table, schema):
    pre, x, _ = _encoded(table, schema)
    p = predict_proba(_model(pre, 2), x, batch_size=7)  # several batches
    assert p.shape == (len(table),) and ((p > 0) & (p < 1)).all()
    assert np.allclose(p, predict_proba(_model(pre, 2), x))  # batching does not change results
    assert predict_proba(_model(pre, 2), x.take(np.arange(0))).shape == (0,)


def test_balanced_weights_give_each_class_half(table, schema):
    y = np.array([1] * 10 + [0] * 90, dtype=np.float32)
    x = Encoded(np.zeros((100, 2), dtype=np.int64), np.zeros((100, 2), dtype=np.float32))
    balanced = Labelled.of(x, y, balance=True)
    assert balanced.weight.dtype == np.float32
    assert balanced.weight[y == 1].sum() == pytest.approx(50.0)
    assert balanced.weight[y == 0].sum() == pytest.approx(50.0)
    assert balanced.weight[0] == pytest.approx(5.0) and balanced.weight[-1] == pytest.approx(
        100 / 180
    )
    assert np.array_equal(Labelled.of(x, y).weight, np.ones(100, dtype=np.float32))
    # a single-class set cannot be balanced: unit weights
    assert np.array_equal(Labelled.of(x, np.zeros(100), balance=True).weight, np.ones(100))


def test_checkpoint_round_trip_gives_identical_predictions(table, schema, tmp_path):
    pre, x, y = _encoded(table, schema)
    model = _model(pre, 2)
    fit(model, Labelled.of(x.take(np.arange(400)), y[:400]), TrainSpec(epochs=2), device=CPU)
    path = checkpoint.save(tmp_path / "model.pt", model, pre)
    loaded, loaded_pre = checkpoint.load(path)
    assert loaded_pre == pre
    assert not loaded.training
    expected = checkpoint.score_rows(model, pre, table)
    got = checkpoint.score_rows(loaded, loaded_pre, table)
    assert np.array_equal(expected, got)
    # and the trained weights, not a fresh initialisation, were restored
    assert not np.allclose(got, predict_proba(_model(pre, 2, seed=1), x))
