"""Kumar's small CNN: shapes on 28x28 and 8x8 inputs, features/head split, checkpoint args;
the ensemble that averages several of them, and the one checkpoint format with an image encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.data.image_encoding import ImageEncoder
from components.data.image_transform import ImageTransform
from components.errors import StepstoneError
from components.models.checkpoint import load, save
from components.models.cnn import CNNSpec, SmallCNN
from components.models.ensemble import Ensemble
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import embed, predict_proba

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
    ensemble = Ensemble(members).eval()
    mean = np.mean([predict_proba(m.eval(), x) for m in members], 0)
    assert np.allclose(predict_proba(ensemble, x), mean, atol=1e-6)
    assert embed(ensemble, x).shape == (200, 3 * embed(members[0], x).shape[1])
    # the members disagree, so the mean is not any one of them
    assert not any(np.allclose(predict_proba(m, x), mean, atol=1e-3) for m in members)
    encoder = ImageEncoder(ImageTransform(channels=1), [0, 1], (1, 8, 8))
    loaded, loaded_encoder = load(save(tmp_path / "ensemble.pt", ensemble, encoder))
    assert isinstance(loaded, Ensemble) and len(loaded.members) == 3
    assert loaded_encoder == encoder
    assert np.allclose(predict_proba(loaded, x), mean, atol=1e-6)
    single, _ = load(save(tmp_path / "single.pt", members[2], encoder))
    assert isinstance(single, SmallCNN)
    with pytest.raises(StepstoneError, match="at least one member"):
        Ensemble([])


def test_a_binary_ensemble_averages_probabilities_not_logits():
    class Fixed(torch.nn.Module):
        def __init__(self, logit: float):
            super().__init__()
            self.logit = torch.nn.Parameter(torch.tensor(logit))

        def features(self, x):
            return x

        def forward(self, x):
            return self.logit.expand(len(x))

    ensemble = Ensemble([Fixed(0.0), Fixed(10.0)]).eval()
    p = predict_proba(ensemble, np.zeros((2, 1), dtype=np.float32))
    assert np.allclose(p, (0.5 + 1 / (1 + np.exp(-10))) / 2, atol=1e-5)
