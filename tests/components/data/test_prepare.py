"""Built-in image cases written as PNG files plus a manifest (real files, real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.data.image_files import decode_images, read_manifest
from components.data.image_transform import ImageTransform
from components.data.images import DIGITS_SPEC, RotationSpec, rotate, rotated_digits
from components.data.prepare import (
    _draws,
    prepare_digits,
    prepare_mnist_usps,
    write_images,
)


def test_write_images_relative_paths_and_float_scaling(tmp_path):
    images = np.linspace(0, 1, 2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    out = write_images(tmp_path, images, pd.DataFrame({"label": [1, 2]}), "x")
    assert out["path"].tolist() == ["images/x_0.png", "images/x_1.png"]
    x = decode_images([tmp_path / p for p in out["path"]], ImageTransform())
    np.testing.assert_allclose(x[:, 0], images, atol=0.5 / 255 + 1e-6)


@pytest.fixture(scope="module")
def digits_manifest(tmp_path_factory):
    return read_manifest(prepare_digits(tmp_path_factory.mktemp("digits"), seed=0))


def test_prepare_digits_groups_and_hidden_pool_labels(digits_manifest):
    table = digits_manifest
    assert table.columns.tolist() == ["path", "label", "group", "angle"]
    sizes = table["group"].value_counts().to_dict()
    assert sizes == {
        "source": DIGITS_SPEC.source + DIGITS_SPEC.val,
        "pool": DIGITS_SPEC.pool,
        "target": DIGITS_SPEC.target + DIGITS_SPEC.test,
    }
    pool = table[table["group"] == "pool"]
    assert pool["label"].isna().all()
    assert table[table["group"] != "pool"]["label"].notna().all()
    assert pool["angle"].between(*DIGITS_SPEC.pool_angles).all()
    target = table[table["group"] == "target"]
    assert target["angle"].between(*DIGITS_SPEC.target_angles).all()
    x = decode_images(table["path"].head(20), ImageTransform())
    assert x.shape == (20, 1, 8, 8)


def test_prepared_files_match_the_in_memory_protocol(digits_manifest):
    table, memory = digits_manifest, rotated_digits(DIGITS_SPEC, seed=0)
    x = decode_images(table["path"], ImageTransform())
    source = (table["group"] == "source").to_numpy()
    np.testing.assert_allclose(
        x[source][: DIGITS_SPEC.source], memory.source_x, atol=0.5 / 255 + 1e-6
    )
    pool = (table["group"] == "pool").to_numpy()
    np.testing.assert_allclose(table["angle"][pool], memory.pool_angles, atol=1e-4)
    test = x[(table["group"] == "target").to_numpy()][DIGITS_SPEC.target :]
    np.testing.assert_allclose(test, memory.test_x, atol=0.5 / 255 + 1e-6)
    labels = table[table["group"] == "target"]["label"].to_numpy()[DIGITS_SPEC.target :]
    assert np.array_equal(labels.astype(int), memory.test_y)


def test_replayed_source_angles_reproduce_the_rotation():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)
    spec = RotationSpec(source=20, val=5, pool=30, target=5, test=5)
    index, angles = _draws(len(images), spec, 3)["source"]
    from components.data.images import rotated_domains

    memory = rotated_domains(images, digits.target.astype(np.int64), spec, 3)
    mine = np.clip(rotate(images[index].astype(np.float32) / images.max(), angles), 0, 1)
    np.testing.assert_allclose(mine, memory.source_x[:, 0], atol=1e-6)


def test_prepare_mnist_usps_native_sizes(tmp_path):
    manifest = prepare_mnist_usps(tmp_path, mnist_rows=30, usps_rows=40, seed=1, pool_rows=10)
    table = read_manifest(manifest)
    assert table.columns.tolist() == ["path", "label", "domain", "split"]
    assert table["domain"].value_counts().to_dict() == {"mnist": 40, "usps": 40}
    usps = table[table["domain"] == "usps"]
    assert set(usps["split"]) == {"train", "test"}
    mnist = table[table["domain"] == "mnist"]
    assert mnist["split"].value_counts().to_dict() == {"train": 30, "test": 10}
    mnist_x = decode_images(mnist["path"], ImageTransform())
    usps_x = decode_images(usps["path"], ImageTransform())
    assert mnist_x.shape == (40, 1, 28, 28) and usps_x.shape == (40, 1, 16, 16)
    both = decode_images(table["path"], ImageTransform(size=(28, 28)))
    assert both.shape == (80, 1, 28, 28)
