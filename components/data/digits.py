"""USPS digits and the MNIST <-> USPS transfer tasks (LeNet protocol: 28x28, one channel).

USPS (16x16, digits filling the frame) is resized to 28x28 bilinearly, as the
Transfer-Learning-Library digits benchmark does. Pixels are scaled to [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from components.data.images import load_mnist
from components.errors import StepstoneError

Domain = Literal["mnist", "usps"]


def load_usps(root: Path, split: Literal["train", "test"]) -> tuple[np.ndarray, np.ndarray]:
    """USPS images float32 [n, 16, 16] in [0, 1] and labels int64 [n] from `root`/usps."""
    path = root / "usps" / "usps_16x16.npz"
    if not path.exists():
        raise StepstoneError(
            f"USPS file {path} not found; set STEPSTONE_DATA_ROOT to the folder holding usps/."
        )
    with np.load(path) as blob:
        return blob[f"x_{split}"].astype(np.float32), blob[f"y_{split}"].astype(np.int64)


def resize(images: np.ndarray, size: int = 28) -> np.ndarray:
    """Bilinear resize of [n, h, w] images to [n, size, size]."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
    out = torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False
    )
    return out.squeeze(1).numpy()


def load_digits(
    root: Path, domain: Domain, split: Literal["train", "test"]
) -> tuple[np.ndarray, np.ndarray]:
    """One domain's split as float32 [n, 1, 28, 28] in [-1, 1] and int64 labels."""
    if domain == "mnist":
        images, labels = load_mnist(root, split)
        images = images.astype(np.float32) / 255.0
    elif domain == "usps":
        images, labels = load_usps(root, split)
        images = resize(images, 28)
    else:
        raise StepstoneError(f"unknown digits domain {domain!r}; use 'mnist' or 'usps'.")
    return ((np.clip(images, 0.0, 1.0) - 0.5) / 0.5)[:, None].astype(np.float32), labels


@dataclass(frozen=True)
class DigitsTask:
    """Unsupervised domain adaptation: labelled source train, unlabelled target train,
    labelled target test (used only to report accuracy)."""

    source_x: np.ndarray
    source_y: np.ndarray
    target_x: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def digits_task(root: Path, source: Domain, target: Domain) -> DigitsTask:
    """The source's train split (labelled), the target's train split (labels dropped) and
    the target's test split."""
    if source == target:
        raise StepstoneError(f"source and target are both {source!r}; pick two domains.")
    source_x, source_y = load_digits(root, source, "train")
    target_x, _ = load_digits(root, target, "train")
    test_x, test_y = load_digits(root, target, "test")
    return DigitsTask(source_x, source_y, target_x, test_x, test_y)
