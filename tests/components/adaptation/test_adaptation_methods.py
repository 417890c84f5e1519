"""L2-SP penalty, fine-tuning and L2-SP adaptation on a synthetic label shift."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch.optim.optimizer import register_optimizer_step_pre_hook

from components.adaptation import ADAPTERS, AdaptSpec, adapt
from components.adaptation.conservative import l2sp_penalty
from components.adaptation.spec import AdaptData, labelled_target
from components.data.preprocess import Encoded
from components.errors import StepstoneError
from components.models import training
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.tabular_mlp import MLPSpec, TabularMLP
from components.models.training import predict_proba

torch.set_num_threads(1)

CPU = torch.device("cpu")
ADAPT_TRAIN = TrainSpec(epochs=40, batch_size=32, lr=1e-2)
N_LABELLED = 60


@pytest.fixture(autouse=True)
def _on_cpu(monkeypatch):
    """`adapt` takes no device and trains on cuda when there is one; pin it to the CPU so
    results are bit-reproducible (CUDA embedding backward is not) and comparable here."""
    monkeypatch.setattr(training, "resolve_device", lambda name="auto": CPU)


def _domain(n: int, feature: int, rng: np.random.Generator) -> tuple[Encoded, np.ndarray]:
    """Three standard-normal numbers and one noise category; y depends on number `feature`."""
    num = rng.normal(size=(n, 3)).astype(np.float32)
    cat = rng.integers(1, 4, size=(n, 1))
    y = (num[:, feature] + 0.3 * rng.normal(size=n) > 0).astype(np.float32)
    return Encoded(cat, num), y


@pytest.fixture(scope="module")
def shift():
    """A source model trained where y depends on feature A (0); target y depends on B (1)."""
    rng = np.random.default_rng(0)
    x_source, y_source = _domain(600, 0, rng)
    x_target, y_target = _domain(400, 1, rng)
    torch.manual_seed(0)
    source = TabularMLP([4], 3, MLPSpec(embedding_dim=2, hidden=(16, 8), dropout=0.1))
    pretrain = TrainSpec(epochs=20, batch_size=64, lr=1e-2)
    fit(source, Labelled.of(x_source, y_source), pretrain, device=CPU)
    labelled = np.arange(N_LABELLED)
    test = np.arange(N_LABELLED, 400)
    return {
        "source": source,
        "target": Labelled.of(x_target.take(labelled), y_target[labelled], balance=True),
        "test_x": x_target.take(test),
        "test_y": y_target[test],
        "source_data": Labelled.of(x_source, y_source),
    }


def _auc(model, shift) -> float:
    return roc_auc_score(shift["test_y"], predict_proba(model, shift["test_x"]))


def _trunk_distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pb = dict(b.named_parameters())
    return (
        sum(
            ((p - pb[name]) ** 2).sum().item()
            for name, p in a.named_parameters()
            if not name.startswith("head.")
        )
        ** 0.5
    )


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _value(penalty, model) -> float:
    return penalty(model).detach().item()


# --- the penalty ----------------------------------------------------------------------------


def test_penalty_is_zero_at_the_source_weights(shift):
    source = shift["source"]
    assert _value(l2sp_penalty(source, alpha=5.0, beta=0.0), copy.deepcopy(source)) == 0.0


def test_penalty_grows_with_distance_from_the_source(shift):
    source = shift["source"]
    model = copy.deepcopy(source)
    with torch.no_grad():
        model.trunk[0].weight[0, 0] += 0.5
        model.embeddings[0].weight[2, 1] -= 0.2
    value = _value(l2sp_penalty(source, alpha=4.0, beta=0.0), model)
    assert value == pytest.approx(0.5 * 4.0 * (0.5**2 + 0.2**2), rel=1e-4)


def test_penalty_shrinks_the_head_not_toward_the_source(shift):
    source = shift["source"]
    model = copy.deepcopy(source)
    with torch.no_grad():
        model.head.weight += 1.0  # the head is not anchored: alpha ignores it
    assert _value(l2sp_penalty(source, alpha=10.0, beta=0.0), model) == 0.0
    head_sq = ((model.head.weight**2).sum() + (model.head.bias**2).sum()).item()
    assert _value(l2sp_penalty(source, alpha=10.0, beta=0.3), model) == pytest.approx(
        0.15 * head_sq, rel=1e-5
    )


def test_penalty_anchors_are_a_snapshot(shift):
    source = copy.deepcopy(shift["source"])
    penalty = l2sp_penalty(source, alpha=1.0, beta=0.0)
    with torch.no_grad():
        source.trunk[0].bias[0] += 1.0  # moving the source later does not move the anchor
    assert _value(penalty, source) == pytest.approx(0.5, rel=1e-5)


def test_penalty_has_gradients(shift):
    model = copy.deepcopy(shift["source"])
    with torch.no_grad():
        model.trunk[0].weight[1, 2] += 0.5
    l2sp_penalty(shift["source"], alpha=2.0, beta=0.0)(model).backward()
    assert model.trunk[0].weight.grad[1, 2].item() == pytest.approx(2.0 * 0.5, rel=1e-4)
    assert model.trunk[0].weight.grad.abs().sum().item() == pytest.approx(1.0, rel=1e-4)


# --- adaptation -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["finetune", "l2sp"])
def test_adaptation_beats_the_source_model_on_the_target(shift, method):
    before = _auc(shift["source"], shift)
    assert before < 0.65  # the source model learned the wrong feature
    model, history = adapt(
        shift["source"], shift["target"], None, AdaptSpec(method=method, train=ADAPT_TRAIN), seed=0
    )
    after = _auc(model, shift)
    assert after > 0.8 and after > before + 0.2
    assert len(history) == ADAPT_TRAIN.epochs
    assert history[-1]["loss"] < history[0]["loss"]
    assert ("penalty" in history[-1]) == (method == "l2sp")
    assert history[-1].get("penalty", 1.0) > 0


def test_huge_alpha_keeps_the_trunk_near_the_source(shift):
    source = shift["source"]
    free, _ = adapt(
        source, shift["target"], None, AdaptSpec(alpha=0.0, beta=0.0, train=ADAPT_TRAIN)
    )
    held, _ = adapt(
        source, shift["target"], None, AdaptSpec(alpha=1000.0, beta=0.0, train=ADAPT_TRAIN)
    )
    d_free, d_held = _trunk_distance(free, source), _trunk_distance(held, source)
    assert d_free > 0.5
    assert d_held < 0.1 * d_free


@pytest.mark.parametrize("method", sorted(set(ADAPTERS) - {"source_only"}))
def test_source_model_is_not_modified(shift, method):
    source = shift["source"]
    before = _state(source)
    pool = Labelled.of(shift["source_data"].x.take(np.arange(100)), shift["source_data"].y[:100])
    spec = AdaptSpec(method=method, train=TrainSpec(epochs=3, batch_size=32, lr=1e-2), rounds=1)
    model, _ = adapt(
        source,
        shift["target"],
        pool,
        spec,
        unlabelled=shift["test_x"],
        source_data=shift["source_data"],
    )
    assert model is not source
    after = _state(source)
    assert all(torch.equal(before[k], after[k]) for k in before)
    adapted = _state(model)
    assert not all(torch.equal(before[k], adapted[k]) for k in before)


@pytest.mark.parametrize("method", sorted(set(ADAPTERS) - {"source_only"}))
def test_iterations_replace_epochs_for_every_method(shift, method):
    """`adaptation.iterations` sets the number of optimiser steps whatever the method."""
    steps = []
    hook = register_optimizer_step_pre_hook(lambda *_: steps.append(1))
    spec = AdaptSpec(
        method=method, iterations=7, rounds=1, train=TrainSpec(epochs=50, batch_size=8)
    )
    pool = Labelled.of(shift["source_data"].x.take(np.arange(50)), shift["source_data"].y[:50])
    try:
        adapt(
            shift["source"],
            shift["target"],
            pool,
            spec,
            unlabelled=shift["test_x"],
            source_data=shift["source_data"],
        )
    finally:
        hook.remove()
    assert len(steps) == 7


def test_adaptation_is_seeded(shift):
    spec = AdaptSpec(train=TrainSpec(epochs=3, batch_size=32, lr=1e-2))
    a, _ = adapt(shift["source"], shift["target"], None, spec, seed=4)
    b, _ = adapt(shift["source"], shift["target"], None, spec, seed=4)
    sa, sb = _state(a), _state(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_unknown_method_lists_valid_ones(shift):
    with pytest.raises(StepstoneError, match="unknown adaptation.method 'danm'") as info:
        adapt(shift["source"], shift["target"], None, AdaptSpec(method="danm"))
    assert all(f"'{name}'" in str(info.value) for name in ADAPTERS)


def test_mix_gives_each_domain_its_share(shift):
    target = shift["target"]  # 60 rows
    pool = Labelled.of(shift["source_data"].x.take(np.arange(240)), shift["source_data"].y[:240])
    mixed = labelled_target(
        AdaptData(target, pool), AdaptSpec(target_weight=0.75, pool_weight=0.25)
    )
    assert len(mixed.y) == 300
    assert mixed.weight.mean() == pytest.approx(1.0, rel=1e-5)
    total = mixed.weight.sum()
    assert mixed.weight[:60].sum() / total == pytest.approx(0.75, rel=1e-5)
    assert mixed.weight[60:].sum() / total == pytest.approx(0.25, rel=1e-5)
    # no pool (or an empty one): the target rows alone, unit mean weight
    for empty in (None, Labelled.of(pool.x.take(np.arange(0)), pool.y[:0])):
        alone = labelled_target(AdaptData(target, empty), AdaptSpec())
        assert len(alone.y) == 60 and alone.weight.mean() == pytest.approx(1.0, rel=1e-5)
