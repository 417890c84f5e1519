"""Every adaptation method on a k-class image CNN (LeNet), and the digits data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.adaptation import ADAPTERS, AdaptSpec, adapt
from components.adaptation.conservative import layers
from components.data.digits import digits_task, load_usps, resize
from components.data.images import data_root
from components.models.lenet import LeNet
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import predict_proba

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _images(n: int, rng, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Three classes: a bright bar in the top, middle or bottom band, plus noise and offset."""
    y = rng.integers(0, 3, n)
    x = rng.normal(scale=0.3, size=(n, 1, 28, 28)).astype(np.float32) + offset
    for i, c in enumerate(y):
        x[i, 0, 4 + 8 * c : 8 + 8 * c, 4:24] += 2.0
    return x, y


@pytest.mark.parametrize("method", sorted(set(ADAPTERS) - {"source_only"}))
def test_every_method_adapts_a_k_class_cnn(method):
    rng = np.random.default_rng(0)
    xs, ys = _images(96, rng, 0.0)
    xt, yt = _images(96, rng, 0.5)
    torch.manual_seed(0)
    source = LeNet(n_classes=10)
    spec = AdaptSpec(method=method, iterations=4, rounds=2, train=TrainSpec(batch_size=32))
    model, history = adapt(
        source,
        Labelled.of(xt[:32], yt[:32]),
        None,
        spec,
        0,
        CPU,
        unlabelled=xt[32:],
        source_data=Labelled.of(xs, ys),
    )
    assert predict_proba(model, xt).shape == (96, 10)
    assert not torch.equal(model.head.weight, source.head.weight)
    assert history and np.isfinite(history[-1]["loss"])


def test_lenet_shapes_and_layers():
    model = LeNet(10)
    x = torch.zeros(2, 1, 28, 28)
    assert model.features(x).shape == (2, 500) and model(x).shape == (2, 10)
    assert [type(m).__name__ for m in layers(model)] == ["Conv2d", "Conv2d", "Linear", "Linear"]


def test_usps_is_resized_to_28_and_the_task_hides_nothing_it_should_not():
    images, labels = load_usps(data_root(), "test")
    assert images.shape == (2007, 16, 16) and set(labels) == set(range(10))
    assert resize(images[:3]).shape == (3, 28, 28)
    task = digits_task(data_root(), "usps", "mnist")
    assert task.source_x.shape == (7291, 1, 28, 28) and task.target_x.shape == (60000, 1, 28, 28)
    assert task.test_x.shape == (10000, 1, 28, 28) and len(task.test_y) == 10000
    assert -1.0 <= task.source_x.min() < task.source_x.max() <= 1.0
    assert -1.0 <= task.target_x.min() < task.target_x.max() <= 1.0
