"""Alignment losses (MMD, CORAL), the gradient reversal layer, and every method beating the
source model on a synthetic shift it was built for."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from components.adaptation import ADAPTERS, AdaptSpec, adapt
from components.adaptation.adversarial import (
    class_probabilities,
    dann_coefficient,
    multilinear,
    reverse_gradient,
)
from components.adaptation.alignment import coral, covariance, mk_mmd
from components.adaptation.conservative import layers
from components.data.preprocess import Encoded
from components.errors import StepstoneError
from components.models.loop import fit, train_joint
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.tabular_mlp import MLPSpec, TabularMLP
from components.models.training import lr_factor as annealed_factor
from components.models.training import predict_proba

torch.set_num_threads(1)
CPU = torch.device("cpu")


# --- losses and the gradient reversal layer ---------------------------------------------------


def test_mmd_is_zero_for_identical_samples_and_positive_for_shifted_ones():
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    assert mk_mmd(x, x.clone()).item() == pytest.approx(0.0, abs=1e-6)
    same_law = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
    shifted = same_law + 1.5
    assert mk_mmd(x, shifted).item() > 10 * mk_mmd(x, same_law).item() > 0


def test_coral_matches_the_formula_on_known_covariances():
    rng = np.random.default_rng(0)
    white = rng.normal(size=(4000, 3))
    white = (white - white.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(white.T))).T
    scale = np.diag([1.0, 2.0, 3.0])
    source = torch.tensor(white, dtype=torch.float32)
    target = torch.tensor(white @ scale, dtype=torch.float32)
    assert covariance(source).numpy() == pytest.approx(np.eye(3), abs=1e-4)
    # C_s = I, C_t = diag(1, 4, 9): ||C_s - C_t||_F^2 = 0 + 9 + 64, divided by 4 d^2 = 36.
    assert coral(source, target).item() == pytest.approx(73 / 36, rel=1e-3)
    assert coral(source, source).item() == pytest.approx(0.0, abs=1e-8)


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [-0.5, -1.0, -1.5]


def test_dann_coefficient_schedule():
    assert dann_coefficient(0.0) == 0.0
    assert dann_coefficient(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert 0.99 < dann_coefficient(1.0) < 1.0


def test_cdan_conditions_the_discriminator_on_detached_class_probabilities():
    features = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    probabilities = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    mapped = multilinear(features, probabilities)
    assert mapped.shape == (2, 6)
    assert mapped[0].tolist() == [0.25, 0.5, 0.75, 0.75, 1.5, 2.25]
    assert mapped[1].tolist() == [0.0, -1.0, 4.0, 0.0, 0.0, 0.0]
    binary = class_probabilities(torch.tensor([0.0, 2.0], requires_grad=True))
    assert binary.shape == (2, 2) and not binary.requires_grad
    assert torch.allclose(binary.sum(1), torch.ones(2)) and binary[1, 1] > 0.85
    k_class = class_probabilities(torch.randn(4, 10, requires_grad=True))
    assert k_class.shape == (4, 10) and not k_class.requires_grad


def test_annealed_learning_rate_follows_the_dann_schedule():
    constant, annealed = TrainSpec(), TrainSpec(lr_decay="annealed")
    assert annealed_factor(100, constant, 99) == 1.0
    assert annealed_factor(101, annealed, 0) == 1.0
    assert annealed_factor(101, annealed, 100) == pytest.approx(11**-0.75)
    # Through both entry points of the one loop (epochs or iterations) the rate ends there.
    spec = TrainSpec(lr=0.1, batch_size=4, epochs=1, lr_decay="annealed")
    data = Labelled.of(_rows(np.zeros((44, 1), dtype=np.float32)), np.zeros(44, dtype=np.float32))
    loops = {
        "train_joint": lambda model: train_joint(model, data, spec, iterations=11),
        "fit": lambda model: fit(model, data, spec),  # 44 rows / batch 4 = 11 steps
    }
    for name, run in loops.items():
        rates = []
        hook = register_optimizer_step_pre_hook(
            lambda optimiser, *_, seen=rates: seen.append(optimiser.param_groups[0]["lr"])
        )
        try:
            run(TabularMLP([2], 1, MLPSpec(embedding_dim=1, hidden=(4,), dropout=0.0)))
        finally:
            hook.remove()
        assert len(rates) == 11, name
        assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.1 * 11**-0.75)
        assert all(a > b for a, b in itertools.pairwise(rates))


# --- methods on shifts ------------------------------------------------------------------------


def _rows(num: np.ndarray) -> Encoded:
    return Encoded(np.ones((len(num), 1), dtype=np.int64), num.astype(np.float32))


def _nuisance_domain(n: int, rng, target: bool) -> tuple[Encoded, np.ndarray]:
    """y from the first number; eight nuisance numbers that are N(0, 1) in the source and
    moved by +6 in the target (a sensor offset): alignment should learn to ignore them."""
    y = rng.integers(0, 2, n)
    signal = np.c_[(2 * y - 1) + 0.5 * rng.normal(size=n), rng.normal(size=n)]
    nuisance = rng.normal(size=(n, 8)) + (6.0 if target else 0.0)
    return _rows(np.c_[signal, nuisance]), y.astype(np.float32)


def _accuracy(model, x, y) -> float:
    return float(((predict_proba(model, x) >= 0.5) == y).mean())


@pytest.mark.parametrize("method", ["mmd", "coral", "dann", "cdan"])
def test_alignment_beats_the_source_model_on_a_covariate_shift(method):
    """Unsupervised: no target labels at all. Mean target accuracy over three seeds (five
    for CDAN: its accuracy swings from seed to seed on this tiny case, e.g. 0.94 -> 0.82 on
    seed 0 with AVX2 kernels while seeds 3 and 4 go 0.50 -> 0.92 and 0.58 -> 0.94)."""
    before, after = [], []
    for seed in range(5 if method == "cdan" else 3):
        rng = np.random.default_rng(seed)
        (xs, ys), (xt, _), (xe, ye) = (
            _nuisance_domain(500, rng, False),
            _nuisance_domain(400, rng, True),
            _nuisance_domain(400, rng, True),
        )
        torch.manual_seed(seed)
        source = TabularMLP([2], 10, MLPSpec(embedding_dim=1, hidden=(16, 8), dropout=0.0))
        fit(source, Labelled.of(xs, ys), TrainSpec(epochs=30, batch_size=64, lr=1e-2), device=CPU)
        # CDAN conditions on the model's own target predictions, which start poor (67% on
        # seed 1), so it needs more steps than the others: at 300 it is below source there.
        iterations = 600 if method == "cdan" else 300
        spec = AdaptSpec(
            method=method, iterations=iterations, train=TrainSpec(batch_size=64, lr=5e-3)
        )
        no_target = Labelled.of(xs.take(np.arange(0)), ys[:0])
        model, history = adapt(
            source, no_target, None, spec, seed, CPU, unlabelled=xt, source_data=Labelled.of(xs, ys)
        )
        before.append(_accuracy(source, xe, ye))
        after.append(_accuracy(model, xe, ye))
        assert {
            "loss",
            {"mmd": "mmd", "coral": "coral", "dann": "domain", "cdan": "domain"}[method],
        } <= set(history[-1])
    assert np.mean(after) > np.mean(before) + 0.05, (before, after)


@pytest.mark.parametrize(
    "method", ["finetune", "layer_transfer", "l2sp", "lwf", "multitask", "self_training"]
)
def test_target_label_methods_beat_the_source_model_on_a_concept_shift(method, concept_shift):
    """Source y follows feature A, target y follows feature B; 60 labelled target rows.
    Self-training leaves the (misleading) source rows out and adds pseudo-labelled ones."""
    s = concept_shift
    spec = AdaptSpec(
        method=method,
        train=TrainSpec(epochs=40, batch_size=32, lr=1e-2),
        distill_weight=0.2,
        source_weight=0.0 if method == "self_training" else 0.5,
    )
    model, _ = adapt(
        s["source"],
        s["target"],
        None,
        spec,
        0,
        CPU,
        unlabelled=s["unlabelled"],
        source_data=s["source_data"],
    )
    before, after = (
        _accuracy(s["source"], s["test_x"], s["test_y"]),
        _accuracy(model, s["test_x"], s["test_y"]),
    )
    assert before < 0.65 and after > before + 0.15, (before, after)


@pytest.fixture(scope="module")
def concept_shift():
    rng = np.random.default_rng(0)

    def domain(n: int, feature: int):
        num = rng.normal(size=(n, 3)).astype(np.float32)
        y = (num[:, feature] + 0.3 * rng.normal(size=n) > 0).astype(np.float32)
        return Encoded(rng.integers(1, 4, size=(n, 1)), num), y

    (xs, ys), (xt, yt) = domain(600, 0), domain(700, 1)
    torch.manual_seed(0)
    source = TabularMLP([4], 3, MLPSpec(embedding_dim=2, hidden=(16, 8), dropout=0.1))
    fit(source, Labelled.of(xs, ys), TrainSpec(epochs=20, batch_size=64, lr=1e-2), device=CPU)
    return {
        "source": source,
        "source_data": Labelled.of(xs, ys),
        "target": Labelled.of(xt.take(np.arange(60)), yt[:60], balance=True),
        "unlabelled": xt.take(np.arange(60, 360)),
        "test_x": xt.take(np.arange(360, 700)),
        "test_y": yt[360:],
    }


def test_layer_transfer_freezes_the_first_layers(concept_shift):
    source = concept_shift["source"]
    spec = AdaptSpec(method="layer_transfer", freeze_layers=2, train=TrainSpec(epochs=3))
    model, _ = adapt(source, concept_shift["target"], None, spec, 0, CPU)
    frozen, trained = layers(model)[:2], layers(model)[2:]
    source_layers = layers(source)
    for mine, theirs in zip(frozen, source_layers[:2]):
        assert all(torch.equal(a, b) for a, b in zip(mine.parameters(), theirs.parameters()))
    assert not torch.equal(trained[0].weight, source_layers[2].weight)
    with pytest.raises(StepstoneError, match="freeze all 4 layers"):
        adapt(source, concept_shift["target"], None, spec.model_copy(update={"freeze_layers": 4}))


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["mmd", "coral", "dann", "cdan", "self_training"])
def test_methods_needing_unlabelled_target_rows_say_so_before_training(method, concept_shift):
    s = concept_shift
    with pytest.raises(StepstoneError, match="needs unlabelled target rows .*target.unlabelled"):
        adapt(
            s["source"], s["target"], None, AdaptSpec(method=method), source_data=s["source_data"]
        )


def test_methods_needing_target_labels_say_so(concept_shift):
    s = concept_shift
    empty = s["target"].take(np.arange(0))
    for method in ("finetune", "l2sp", "lwf", "layer_transfer", "multitask"):
        with pytest.raises(StepstoneError, match="needs .*labelled target rows"):
            adapt(s["source"], empty, None, AdaptSpec(method=method), unlabelled=s["unlabelled"])
    with pytest.raises(StepstoneError, match="needs labelled source rows"):
        adapt(s["source"], s["target"], None, AdaptSpec(method="multitask"))
    assert set(ADAPTERS) >= {"mmd", "coral", "dann", "cdan", "multitask", "self_training", "lwf"}
