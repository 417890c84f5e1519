"""Kumar's small CNN: shapes on 28x28 and 8x8 inputs, features/head split, checkpoint args;
the ensemble that averages several of them, and its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.errors import StepstoneError
from components.models.cnn import CNNEnsemble, CNNSpec, SmallCNN, load, save
from components.models.loop import fit
from components.models.training import Labelled, TrainSpec, embed, predict_proba

torch.set_num_threads(1)


def test_shapes_and_layers():
    model = SmallCNN((1, 28, 28), 10)
    convs = [m for m in model.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (5, 5), (2, 2))] * 3
    assert model.head.in_features == 32 * 4 * 4
    x = torch.zeros(3, 1, 28, 28)
    assert model(x).shape == (3, 10) and model.features(x).shape == (3, 512)
    small = SmallCNN((1, 8, 8), 10, CNNSpec(channels=16))
    assert small.features(torch.zeros(2, 1, 8, 8)).shape == (2, 16)


def tiny_task(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """200 8x8 images; class 1 has a bright top half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    x = rng.normal(0, 0.3, (200, 1, 8, 8)).astype(np.float32)
    x[y == 1, :, :4] += 1.0
    return x, y


def trained(x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> SmallCNN:
    model = SmallCNN((1, 8, 8), 2)
    spec = TrainSpec(epochs=epochs, batch_size=32, lr=3e-3)
    fit(model, Labelled.of(x, y), spec, seed=seed, device=torch.device("cpu"))
    return model


def test_learns_a_tiny_image_task_and_rebuilds_from_init_args():
    x, y = tiny_task()
    model = trained(x, y, epochs=15)
    assert (predict_proba(model, x).argmax(1) == y).mean() > 0.95
    clone = SmallCNN.from_init_args(model.init_args())
    clone.load_state_dict(model.state_dict())
    assert np.allclose(embed(clone.eval(), x), embed(model, x), atol=1e-5)


def test_an_ensemble_averages_its_members_probabilities_and_survives_a_checkpoint(tmp_path):
    x, y = tiny_task()
    members = [trained(x, y, epochs, seed) for epochs, seed in ((1, 0), (3, 1), (15, 2))]
    ensemble = CNNEnsemble(members).eval()
    mean = np.mean([predict_proba(m.eval(), x) for m in members], 0)
    assert np.allclose(predict_proba(ensemble, x), mean, atol=1e-6)
    assert embed(ensemble, x).shape == (200, 3 * embed(members[0], x).shape[1])
    # the members disagree, so the mean is not any one of them
    assert not any(np.allclose(predict_proba(m, x), mean, atol=1e-3) for m in members)
    loaded = load(save(tmp_path / "ensemble.pt", ensemble))
    assert isinstance(loaded, CNNEnsemble) and len(loaded.members) == 3
    assert loaded.image_shape == (1, 8, 8)
    assert np.allclose(predict_proba(loaded, x), mean, atol=1e-6)
    single = load(save(tmp_path / "single.pt", members[2]))
    assert isinstance(single, SmallCNN)
    with pytest.raises(StepstoneError, match="at least one member"):
        CNNEnsemble([])
