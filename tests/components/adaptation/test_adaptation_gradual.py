"""Gradual self-training, progressive ordering and joint training on rotating 2-D Gaussians:
with the true order, gradual self-training follows a 100-degree rotation that defeats both
the source model and self-training directly on the target."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from components.adaptation.gradual import (
    gradual_self_train,
    jittered_paths,
    neighbour_vote,
    progressive_self_train,
    pseudo_label,
    self_train_step,
    with_target,
)
from components.adaptation.joint import joint_train
from components.adaptation.spec import GradualSpec, JointSpec
from components.data.preprocess import Encoded
from components.errors import StepstoneError
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.tabular_mlp import MLPSpec, TabularMLP
from components.models.training import embed, predict_proba
from components.selection import SelectionSpec
from components.selection.base import from_scores, jitter_chunks
from components.selection.kernel import witness

torch.set_num_threads(1)
CPU = torch.device("cpu")
SPEC = GradualSpec(train=TrainSpec(epochs=15, batch_size=64, lr=1e-2))


class TinyNet(nn.Module):
    """2 -> 16 -> binary logit, with `features()` like the project's models."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, 16), nn.ReLU())
        self.head = nn.Linear(16, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def rotated_blobs(angles: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two classes at +-(2, 0) (sd 0.6), each point rotated by its angle in degrees."""
    y = rng.integers(0, 2, size=len(angles))
    x = np.stack([np.where(y == 1, 2.0, -2.0), np.zeros(len(y))], 1) + rng.normal(
        0, 0.6, (len(y), 2)
    )
    a = np.deg2rad(angles)
    rot = np.stack(
        [x[:, 0] * np.cos(a) - x[:, 1] * np.sin(a), x[:, 0] * np.sin(a) + x[:, 1] * np.cos(a)], 1
    )
    return rot.astype(np.float32), y.astype(np.float32)


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    source = rotated_blobs(rng.uniform(0, 10, 500), rng)
    pool_angles = rng.uniform(10, 110, 1000)  # shuffled: the order is hidden
    pool_x, _ = rotated_blobs(pool_angles, rng)
    target_x, _ = rotated_blobs(rng.uniform(100, 110, 300), rng)
    test = rotated_blobs(rng.uniform(100, 110, 500), rng)
    torch.manual_seed(0)
    model = TinyNet()
    fit(model, Labelled.of(*source), TrainSpec(epochs=30, batch_size=64, lr=1e-2), device=CPU)
    return {
        "model": model,
        "source": source,
        "pool": pool_x,
        "angles": pool_angles,
        "target": target_x,
        "test": test,
    }


def accuracy(model: nn.Module, data: tuple[np.ndarray, np.ndarray]) -> float:
    return float(((predict_proba(model, data[0]) > 0.5) == data[1]).mean())


def ordered_chunks(x: np.ndarray, positions: np.ndarray, n: int) -> list[np.ndarray]:
    return [x[i] for i in np.array_split(np.argsort(positions), n)]


def test_gradual_with_true_order_beats_source_and_direct_self_training(world):
    steps = [*ordered_chunks(world["pool"], world["angles"], 10), world["target"]]
    gradual, history = gradual_self_train(world["model"], steps, SPEC, seed=0, device=CPU)
    direct, _ = gradual_self_train(world["model"], [world["target"]], SPEC, seed=0, device=CPU)
    source_acc = accuracy(world["model"], world["test"])
    assert source_acc < 0.6 and accuracy(direct, world["test"]) < 0.6
    assert accuracy(gradual, world["test"]) > 0.9
    assert len(history) == 11 and all(h["rows"] == 90 for h in history[:10])  # 10% dropped


def test_progressive_ordering_without_the_truth_also_follows_the_rotation(world):
    """The two rotated blobs are symmetric, so a linear domain classifier cannot order them;
    the progressive re-scoring uses the (nonlinear) random-feature MMD witness here."""

    def scorer(source, pool, target, seed):
        return witness(source, pool, target, n_features=256, seed=seed)

    model, history = progressive_self_train(
        world["model"],
        world["source"][0],
        world["pool"],
        world["target"],
        10,
        SPEC,
        seed=0,
        on_step=lambda i, m: {"test_acc": accuracy(m, world["test"])},
        device=CPU,
        scorer=scorer,
    )
    assert len(history) == 11 and "test_acc" in history[-1]
    assert accuracy(model, world["test"]) > 0.8


def test_labelled_target_rows_join_every_step(world):
    rng = np.random.default_rng(5)
    target = Labelled.of(*rotated_blobs(rng.uniform(100, 110, 20), rng))
    direct, _ = gradual_self_train(
        world["model"], [world["target"]], SPEC, target=target, device=CPU
    )
    assert accuracy(direct, world["test"]) > 0.8  # 20 labels are enough to turn the boundary
    mixed = with_target(pseudo_label(world["model"], world["target"], 0.1), target, 0.5)
    assert len(mixed) == 270 + 20
    assert np.isclose(mixed.weight[-20:].sum(), mixed.weight.sum() / 2)


def test_pseudo_label_drops_the_least_confident(world):
    x = world["pool"]
    p = predict_proba(world["model"], x)
    kept = pseudo_label(world["model"], x, 0.25)
    assert len(kept) == 750
    confidence = np.abs(p - 0.5)
    assert (
        np.abs(predict_proba(world["model"], kept.x) - 0.5).min()
        >= np.quantile(confidence, 0.25) - 1e-6
    )


def test_joint_training_with_pool_pseudo_labels_and_target_labels(world):
    rng = np.random.default_rng(7)
    target = Labelled.of(*rotated_blobs(rng.uniform(100, 110, 30), rng))
    spec = JointSpec(train=TrainSpec(epochs=20, batch_size=64, lr=1e-2))
    late = world["pool"][world["angles"] > 80]
    model, history = joint_train(
        world["model"], Labelled.of(*world["source"]), late, target, spec, device=CPU
    )
    assert len(history) == 20 and accuracy(model, world["test"]) > 0.8
    with pytest.raises(StepstoneError, match="no rows with a positive weight"):
        joint_train(
            world["model"],
            Labelled.of(*world["source"]),
            None,
            None,
            spec.model_copy(update={"source_weight": 0.0}),
        )


def test_several_teachers_pseudo_label_by_their_mean_probability(world):
    x = world["pool"]
    bolder = copy.deepcopy(world["model"])
    with torch.no_grad():
        bolder.head.bias += 2.0  # says "1" more often
    mean = (predict_proba(world["model"], x) + predict_proba(bolder, x)) / 2
    alone = pseudo_label(world["model"], x, 0.0)
    both = pseudo_label([world["model"], bolder], x, 0.0)
    assert np.array_equal(both.y, (mean > 0.5).astype(np.float32))
    assert (both.y != alone.y).sum() > 10
    kept = pseudo_label([world["model"], bolder], x, 0.25)
    kept_mean = (predict_proba(world["model"], kept.x) + predict_proba(bolder, kept.x)) / 2
    assert len(kept) == 750
    assert np.abs(kept_mean - 0.5).min() >= np.quantile(np.abs(mean - 0.5), 0.25) - 1e-6


class NoisyTeacher(nn.Module):
    """Features are the first two inputs; a third input of 1 flips the returned logit, so
    those rows are mislabelled whatever the rows around them say (training, which goes
    through `head`, does not see the flip)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 1)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, 0.0]]))
            self.head.bias.zero_()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.head(self.features(x)).squeeze(1)
        return torch.where(x[:, 2] > 0, -4 * logit, logit)


def test_neighbour_vote_averages_each_rows_nearest_rows_by_cosine(world):
    x, model = world["pool"][:300], world["model"]
    p, e = predict_proba(model, x), embed(model, x)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    nearest = np.argsort(-(e @ e.T), axis=1)[:, :7]
    vote = neighbour_vote(model, x, 7)
    assert np.allclose(vote, p[nearest].mean(1), atol=1e-6)
    assert np.array_equal(neighbour_vote(model, x, 1), p)
    assert np.array_equal(neighbour_vote(model, x, 0), p)
    assert neighbour_vote(model, x[:4], 10).shape == (4,)  # fewer rows than neighbours


def test_neighbour_vote_takes_tabular_rows():
    torch.manual_seed(0)
    model = TabularMLP([4, 3], 2, MLPSpec(embedding_dim=2, hidden=(8,)))
    rng = np.random.default_rng(0)
    x = Encoded(rng.integers(0, 3, (50, 2)), rng.normal(size=(50, 2)).astype(np.float32))
    vote = neighbour_vote(model, x, 5)
    assert vote.shape == (50,) and ((vote > 0) & (vote < 1)).all()
    assert not np.allclose(vote, predict_proba(model, x))


def test_neighbours_outvote_a_teachers_isolated_mistakes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    flipped = rng.random(400) < 0.1
    x = np.column_stack(
        [np.where(y == 1, 2.0, -2.0) + rng.normal(0, 0.5, 400), rng.normal(0, 0.5, 400), flipped]
    ).astype(np.float32)
    alone = pseudo_label(NoisyTeacher(), x, 0.0)
    voted = pseudo_label(NoisyTeacher(), x, 0.0, neighbours=10)
    assert (alone.y == y).mean() < 0.92
    assert (voted.y == y).mean() > 0.99
    spec = SPEC.model_copy(update={"drop_fraction": 0.0})
    _, plain = self_train_step(NoisyTeacher(), x, spec, 0, device=CPU)
    voting = spec.model_copy(update={"neighbours": 10})
    _, corrected = self_train_step(NoisyTeacher(), x, voting, 0, device=CPU)
    assert plain["loss"] > corrected["loss"] + 0.2  # the flipped rows' wrong labels are gone


def test_jittered_paths_walk_side_by_side_on_the_teachers_mean_labels(world):
    ids = np.arange(len(world["pool"]))
    spec = SelectionSpec(fraction=1.0, chunks=5, jitter=0.2)
    selection = jitter_chunks(from_scores(ids, world["angles"], spec), spec, seed=3)
    calls = []

    def on_step(step: int, model: nn.Module) -> dict[str, float]:
        calls.append(step)
        return {}

    paths = jittered_paths(
        world["model"], selection, spec, world["pool"], world["target"], 2, SPEC, 3, on_step, CPU
    )
    assert len(paths) == 2 and all(len(history) == 6 for _, history in paths)
    assert calls == [0, 1, 2, 3, 4, 5]  # draw 0 only

    def cut(seed: int) -> list[np.ndarray]:
        table = jitter_chunks(selection, spec, seed).table
        chunks = [world["pool"][table.loc[table["chunk"] == c, "row_id"]] for c in range(5)]
        return [*chunks, world["target"]]

    cuts, models = [cut(3), cut(4)], [world["model"]] * 2  # draw 0 is the selection's cut
    for i in range(6):
        labels = [pseudo_label(models, steps[i], SPEC.drop_fraction) for steps in cuts]
        models = [self_train_step(m, y, SPEC, 3 + i, device=CPU)[0] for m, y in zip(models, labels)]
    solo, _ = gradual_self_train(world["model"], cuts[0], SPEC, 3, device=CPU)
    (one,) = jittered_paths(
        world["model"], selection, spec, world["pool"], world["target"], 1, SPEC, 3
    )
    x = world["test"][0]
    for (model, _), expected in zip(paths, models):
        assert np.allclose(predict_proba(model, x), predict_proba(expected, x), atol=1e-6)
    assert np.allclose(predict_proba(one[0], x), predict_proba(solo, x), atol=1e-6)
    assert not np.allclose(predict_proba(paths[0][0], x), predict_proba(solo, x), atol=1e-3)


def test_bad_paths_fail_before_training(world):
    with pytest.raises(StepstoneError, match="at least one step"):
        gradual_self_train(world["model"], [], SPEC)
    with pytest.raises(StepstoneError, match="step is empty"):
        gradual_self_train(world["model"], [world["pool"][:0], world["target"]], SPEC)
    with pytest.raises(StepstoneError, match="cannot fill 10 progressive steps"):
        progressive_self_train(
            world["model"], world["source"][0], world["pool"][:5], world["target"], 10, SPEC
        )
