"""Decoding real PNG/JPEG files through torchvision, manifests, folder layouts and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from pydantic import ValidationError
from torchvision.io import write_png

from components.data.image_files import (
    augmenter,
    decode_images,
    files_digest,
    folder_manifest,
    image_listing,
    read_manifest,
)
from components.data.image_transform import ImageTransform
from components.errors import StepstoneError


def png(path: Path, pixels: np.ndarray) -> Path:
    """Write uint8 [h, w] or [c, h, w] pixels as a PNG at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.uint8))
    write_png(x[None] if x.ndim == 2 else x, str(path))
    return path


def gray(value: int, h: int = 6, w: int = 5) -> np.ndarray:
    return np.full((h, w), value, dtype=np.uint8)


def test_decode_gray_png_round_trips_pixels(tmp_path):
    pixels = np.arange(30, dtype=np.uint8).reshape(6, 5) * 8
    x = decode_images([png(tmp_path / "a.png", pixels)], ImageTransform())
    assert x.shape == (1, 1, 6, 5) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], pixels / 255.0, atol=1e-6)


def test_gray_to_rgb_and_rgb_to_gray(tmp_path):
    a = png(tmp_path / "a.png", gray(200))
    rgb = np.stack([gray(255), gray(0), gray(0)])
    b = png(tmp_path / "b.png", rgb)
    x = decode_images([a], ImageTransform(channels=3))
    assert x.shape == (1, 3, 6, 5)
    np.testing.assert_allclose(x[0, :, 0, 0], [200 / 255] * 3, atol=1e-6)
    y = decode_images([b, a], ImageTransform(channels=1))
    assert y.shape == (2, 1, 6, 5)
    assert y[0, 0, 0, 0] == pytest.approx(0.2989, abs=0.01)  # ITU-R 601 luma


def test_jpeg_resize_and_normalise(tmp_path):
    a = tmp_path / "a.jpg"
    Image.fromarray(gray(128, 10, 12)).save(a, quality=95)
    b = png(tmp_path / "b.png", gray(128, 4, 4))
    x = decode_images([a, b], ImageTransform(size=(8, 8), mean=(0.5,), std=(0.25,)))
    assert x.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(x, (128 / 255 - 0.5) / 0.25, atol=0.05)


def test_transform_validation():
    with pytest.raises(ValidationError, match="both mean and std"):
        ImageTransform(mean=(0.5,))
    with pytest.raises(ValidationError, match="one value per channel"):
        ImageTransform(channels=3, mean=(0.5,), std=(0.5,))
    with pytest.raises(ValidationError, match="> 0"):
        ImageTransform(mean=(0.5,), std=(0.0,))
    with pytest.raises(ValidationError):
        ImageTransform(colour="red")


def test_decode_errors_name_the_file_and_the_fix(tmp_path):
    a = png(tmp_path / "a.png", gray(1))
    with pytest.raises(StepstoneError, match=r"missing\.png.*path column"):
        decode_images([a, tmp_path / "missing.png"], ImageTransform())
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(StepstoneError, match=r"notes\.png.*not a decodable"):
        decode_images([tmp_path / "notes.png"], ImageTransform())
    big = png(tmp_path / "big.png", gray(1, 9, 9))
    with pytest.raises(StepstoneError, match=r"a\.png.*big\.png.*data\.transform\.size"):
        decode_images([a, big], ImageTransform())
    rgb = png(tmp_path / "rgb.png", np.zeros((3, 6, 5)))
    with pytest.raises(StepstoneError, match=r"a\.png.*rgb\.png.*data\.transform\.channels"):
        decode_images([a, rgb], ImageTransform())
    with pytest.raises(StepstoneError, match="no images"):
        decode_images([], ImageTransform())
    with pytest.raises(StepstoneError, match="3 channels"):
        decode_images([rgb], ImageTransform(mean=(0.5,), std=(0.5,)))


def test_read_manifest_csv_and_parquet_resolve_relative_paths(tmp_path):
    png(tmp_path / "imgs" / "a.png", gray(1))
    table = pd.DataFrame({"file": ["imgs/a.png", "imgs/a.png"], "label": [3, None]})
    table.to_csv(tmp_path / "m.csv", index=False)
    table.to_parquet(tmp_path / "m.parquet")
    for name in ("m.csv", "m.parquet"):
        got = read_manifest(tmp_path / name, path_column="file")
        assert got["file"].tolist() == [str(tmp_path / "imgs" / "a.png")] * 2
        assert got["label"].iloc[0] == 3 and pd.isna(got["label"].iloc[1])
        assert decode_images(got["file"], ImageTransform()).shape == (2, 1, 6, 5)


def test_read_manifest_errors(tmp_path):
    with pytest.raises(StepstoneError, match=r"nope\.csv.*images\.manifest"):
        read_manifest(tmp_path / "nope.csv")
    pd.DataFrame({"file": ["a.png"]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(StepstoneError, match=r"m\.csv.*'path'.*images\.path_column"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "bad.parquet").write_text("garbage")
    with pytest.raises(StepstoneError, match=r"bad\.parquet"):
        read_manifest(tmp_path / "bad.parquet")


def test_folder_manifest_domains_and_classes(tmp_path):
    for domain, cls, name in [
        ("mnist", "3", "x.png"),
        ("mnist", "7", "y.png"),
        ("usps", "3", "z.png"),
    ]:
        png(tmp_path / domain / cls / name, gray(1))
    (tmp_path / "mnist" / "7" / "readme.txt").write_text("skip me")
    table = folder_manifest(tmp_path)
    assert table.columns.tolist() == ["path", "label", "domain"]
    assert table["label"].tolist() == ["3", "7", "3"]
    assert table["domain"].tolist() == ["mnist", "mnist", "usps"]
    assert table["path"].iloc[2] == str(tmp_path / "usps" / "3" / "z.png")


def test_folder_errors_and_flat_listing(tmp_path):
    with pytest.raises(StepstoneError, match=r"missing.*<domain>/<class>"):
        folder_manifest(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StepstoneError, match=r"empty.*no images.*<domain>/<class>"):
        image_listing(tmp_path / "empty")
    flat = tmp_path / "flat"
    for name in ("b.png", "a.png"):
        png(flat / name, gray(1))
    listing = image_listing(flat)
    assert listing.columns.tolist() == ["path"]
    assert listing["path"].tolist() == [str(flat / "a.png"), str(flat / "b.png")]
    png(tmp_path / "tree" / "d" / "c" / "a.png", gray(1))
    assert image_listing(tmp_path / "tree")["domain"].tolist() == ["d"]


def test_augmenter_changes_batch_keeps_shape():
    batch = torch.rand(16, 1, 8, 8)
    assert augmenter(ImageTransform()) is None
    for kind in ("flip", "crop"):
        torch.manual_seed(0)
        out = augmenter(ImageTransform(augment=kind))(batch)
        assert out.shape == batch.shape and not torch.equal(out, batch)
        torch.manual_seed(0)
        assert torch.equal(augmenter(ImageTransform(augment=kind))(batch), out)


def test_files_digest_tracks_names_and_bytes(tmp_path):
    a, b = png(tmp_path / "a.png", gray(1)), png(tmp_path / "b.png", gray(2))
    first = files_digest([a, b])
    assert files_digest([a, b]) == first and files_digest([b, a]) != first
    png(b, gray(3))
    assert files_digest([a, b]) != first
