"""MNIST from its IDX .gz files, and where the shared image data lives."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Literal

import numpy as np

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
    return np.frombuffer(raw, dtype=np.uint8, offset=8 + 4 * len(dims)).reshape(n, *dims)


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
