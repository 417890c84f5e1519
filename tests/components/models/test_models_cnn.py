"""Kumar's small CNN: shapes on 28x28 and 8x8 inputs, features/head split, checkpoint args."""

from __future__ import annotations

import numpy as np
import torch

from components.models.cnn import CNNSpec, SmallCNN
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


def test_learns_a_tiny_image_task_and_rebuilds_from_init_args():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = rng.normal(0, 0.3, (200, 1, 8, 8)).astype(np.float32)
    x[y == 1, :, :4] += 1.0  # class 1: bright top half
    model = SmallCNN((1, 8, 8), 2)
    fit(
        model,
        Labelled.of(x, y),
        TrainSpec(epochs=15, batch_size=32, lr=3e-3),
        device=torch.device("cpu"),
    )
    assert (predict_proba(model, x).argmax(1) == y).mean() > 0.95
    clone = SmallCNN.from_init_args(model.init_args())
    clone.load_state_dict(model.state_dict())
    assert np.allclose(embed(clone.eval(), x), embed(model, x), atol=1e-5)
