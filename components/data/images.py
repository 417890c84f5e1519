"""Image data for gradual domain adaptation: the MNIST IDX loader, rotation, the Rotating
MNIST protocol of Kumar et al. (2020), and a small rotated-digits demo bundled with sklearn.

The intermediate pool is returned SHUFFLED; its true angles come back separately and are
meant only for the `oracle` selector and the selection-quality report.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from components.errors import StepstoneError

REPO_ROOT = Path(__file__).resolve().parents[2]
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def data_root() -> Path:
    """$STEPSTONE_DATA_ROOT, else ../shared/data next to the repository."""
    return Path(os.environ.get("STEPSTONE_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


def _read_idx(path: Path, magic: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    found, n = int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")
    if found != magic:
        raise StepstoneError(f"{path} is not an IDX file (magic {found}, expected {magic}).")
    dims = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "big") for i in range(magic % 256 - 1)]
    header = 8 + 4 * len(dims)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(n, *dims)


def load_mnist(root: Path, split: Literal["train", "test"]) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images uint8 [n, 28, 28] and labels int64 [n] from `root`/mnist/*.gz (or `root`)."""
    folder = root / "mnist" if (root / "mnist").is_dir() else root
    images, labels = (folder / name for name in MNIST_FILES[split])
    for path in (images, labels):
        if not path.exists():
            raise StepstoneError(
                f"MNIST file {path} not found; set STEPSTONE_DATA_ROOT to the folder holding "
                "mnist/ (IDX .gz files)."
            )
    return _read_idx(images, 2051), _read_idx(labels, 2049).astype(np.int64)


def rotate(images: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Each image [h, w] rotated counter-clockwise by its angle in degrees (same size)."""
    if len(images) == 0:
        return images.copy()
    return np.stack(
        [ndimage.rotate(img, float(a), reshape=False) for img, a in zip(images, angles)]
    )


@dataclass(frozen=True)
class GradualImages:
    """Float images [n, 1, h, w] in [0, 1] per domain. `pool_y` and `pool_angles` are hidden
    truth (for oracle and reports only); the target's unlabelled images and its labelled test
    images are disjoint."""

    source_x: np.ndarray
    source_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    pool_x: np.ndarray
    pool_y: np.ndarray
    pool_angles: np.ndarray
    target_x: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


class RotationSpec(BaseModel):
    """Sizes and angle ranges (degrees) of each domain. Defaults: Kumar et al.'s protocol
    (plus a disjoint 2,000-image target test set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: int = Field(5000, ge=1)
    val: int = Field(1000, ge=0)
    pool: int = Field(42000, ge=1)
    target: int = Field(2000, ge=1)
    test: int = Field(2000, ge=1)
    source_angles: tuple[float, float] = (0.0, 5.0)
    pool_angles: tuple[float, float] = (5.0, 60.0)
    target_angles: tuple[float, float] = (55.0, 60.0)


def rotated_domains(
    images: np.ndarray, labels: np.ndarray, spec: RotationSpec, seed: int
) -> GradualImages:
    """Shuffle, cut consecutive blocks into domains and rotate them. The pool's angles rise
    linearly along its block (as in Kumar et al.); the pool is then shuffled."""
    needed = spec.source + spec.val + spec.pool + spec.target + spec.test
    if needed > len(images):
        raise StepstoneError(f"the rotation protocol needs {needed} images, only {len(images)}.")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    blocks, start = [], 0
    for size in (spec.source, spec.val, spec.pool, spec.target, spec.test):
        blocks.append(order[start : start + size])
        start += size
    src, val, pool, tgt, test = blocks
    pool_angles = np.linspace(*spec.pool_angles, num=spec.pool)
    shuffle = rng.permutation(spec.pool)
    pool, pool_angles = pool[shuffle], pool_angles[shuffle]

    def make(index: np.ndarray, angles: np.ndarray) -> np.ndarray:
        x = rotate(images[index].astype(np.float32) / images.max(), angles)
        return np.clip(x, 0.0, 1.0)[:, None].astype(np.float32)

    def uniform(index: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
        return rng.uniform(*bounds, size=len(index))

    return GradualImages(
        source_x=make(src, uniform(src, spec.source_angles)),
        source_y=labels[src],
        val_x=make(val, uniform(val, spec.source_angles)),
        val_y=labels[val],
        pool_x=make(pool, pool_angles),
        pool_y=labels[pool],
        pool_angles=pool_angles,
        target_x=make(tgt, uniform(tgt, spec.target_angles)),
        test_x=make(test, uniform(test, spec.target_angles)),
        test_y=labels[test],
    )


DIGITS_SPEC = RotationSpec(
    source=600,
    val=100,
    pool=800,
    target=150,
    test=147,
    source_angles=(0.0, 5.0),
    pool_angles=(5.0, 45.0),
    target_angles=(40.0, 45.0),
)


def rotated_digits(spec: RotationSpec = DIGITS_SPEC, seed: int = 0) -> GradualImages:
    """The same protocol on sklearn's bundled 8x8 digits (1,797 images, no download)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return rotated_domains(
        digits.images.astype(np.uint8), digits.target.astype(np.int64), spec, seed
    )
