"""MNIST IDX loading, rotation, and the rotated-domain protocol (shuffled pool, hidden angles)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from components.data.images import (
    RotationSpec,
    data_root,
    load_mnist,
    rotate,
    rotated_digits,
    rotated_domains,
)
from components.errors import StepstoneError


def _write_idx(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    n = len(images)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write((2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        f.write(images.tobytes())
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(
            (2049).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.astype(np.uint8).tobytes()
        )


def test_load_mnist_reads_idx_gz(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    (tmp_path / "mnist").mkdir()
    _write_idx(tmp_path / "mnist", images, np.arange(5))
    x, y = load_mnist(tmp_path, "test")
    assert x.dtype == np.uint8 and np.array_equal(x, images)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 4]


def test_missing_mnist_says_where_to_point(tmp_path):
    with pytest.raises(StepstoneError, match="STEPSTONE_DATA_ROOT"):
        load_mnist(tmp_path, "train")


def test_real_mnist_test_split_when_present():
    x, y = load_mnist(data_root(), "test")
    assert x.shape == (10_000, 28, 28) and sorted(np.unique(y)) == list(range(10))


def test_rotate_turns_a_bar():
    bar = np.zeros((1, 9, 9), dtype=np.float32)
    bar[0, 4, :] = 1.0  # horizontal
    turned = rotate(bar, np.array([90.0]))[0]
    assert turned[:, 4].sum() > 7 and turned[4, [0, 1, 7, 8]].sum() < 0.5


def test_protocol_shuffles_pool_and_hides_angles():
    spec = RotationSpec(source=200, val=50, pool=600, target=100, test=100)
    images = np.random.default_rng(0).integers(0, 256, (1100, 8, 8), dtype=np.uint8)
    d = rotated_domains(images, np.arange(1100) % 10, spec, seed=0)
    assert d.source_x.shape == (200, 1, 8, 8) and d.pool_x.shape == (600, 1, 8, 8)
    assert d.source_x.min() >= 0 and d.source_x.max() <= 1 and d.source_x.dtype == np.float32
    assert 5 <= d.pool_angles.min() and d.pool_angles.max() <= 60
    assert abs(spearmanr(np.arange(600), d.pool_angles).statistic) < 0.2  # shuffled
    assert len(d.target_x) == 100 and len(d.test_y) == 100


def test_digits_demo_needs_no_download():
    d = rotated_digits()
    assert d.source_x.shape[1:] == (1, 8, 8) and len(d.pool_x) == 800 and len(d.test_x) == 147
