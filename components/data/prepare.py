"""The built-in image cases written as PNG files plus a manifest.csv, so the pipeline reads
them exactly as it reads a user's own images."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchvision.io import write_png

from components.data.digits import load_usps
from components.data.image_files import THREADS
from components.data.images import (
    DIGITS_SPEC,
    RotationSpec,
    data_root,
    load_mnist,
    rotated_domains,
)

MANIFEST = "manifest.csv"


def _as_uint8(images: np.ndarray) -> torch.Tensor:
    """[n, c, h, w] uint8 from uint8 or [0, 1] float images, [n, h, w] or [n, c, h, w]."""
    if images.dtype != np.uint8:
        images = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    if images.ndim == 3:
        images = images[:, None]
    return torch.from_numpy(np.array(images, dtype=np.uint8, order="C"))  # writable copy


def write_images(
    out_dir: Path, images: np.ndarray, table: pd.DataFrame, prefix: str
) -> pd.DataFrame:
    """Write each image to out_dir/images/<prefix>_<i>.png; `table` plus a `path` column
    relative to out_dir (posix)."""
    if len(images) != len(table):
        raise ValueError(f"{len(images)} images but {len(table)} table rows.")
    pixels = _as_uint8(images)
    (Path(out_dir) / "images").mkdir(parents=True, exist_ok=True)
    names = [f"images/{prefix}_{i}.png" for i in range(len(pixels))]

    def write(index: range) -> None:
        for i in index:
            write_png(pixels[i], str(Path(out_dir) / names[i]), compression_level=1)

    step = max(256, -(-len(names) // (THREADS * 4)))
    with ThreadPoolExecutor(THREADS) as pool:
        list(
            pool.map(
                write, [range(i, min(i + step, len(names))) for i in range(0, len(names), step)]
            )
        )
    return table.reset_index(drop=True).assign(path=names)


def _draws(n: int, spec: RotationSpec, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(image indices, angles) per block, replaying rotated_domains' random draws in order
    (it does not return the source/target angles nor the target's labels)."""
    rng = np.random.default_rng(seed)
    order, start, blocks = rng.permutation(n), 0, {}
    for name in ("source", "val", "pool", "target", "test"):
        size = getattr(spec, name)
        blocks[name], start = order[start : start + size], start + size
    shuffle = rng.permutation(spec.pool)
    pool_angles = np.linspace(*spec.pool_angles, num=spec.pool)[shuffle]
    out = {"pool": (blocks["pool"][shuffle], pool_angles)}
    for name, bounds in (
        ("source", spec.source_angles),
        ("val", spec.source_angles),
        ("target", spec.target_angles),
        ("test", spec.target_angles),
    ):
        out[name] = (blocks[name], rng.uniform(*bounds, size=len(blocks[name])))
    return out


def prepare_rotated(
    out_dir: Path, images: np.ndarray, labels: np.ndarray, spec: RotationSpec, seed: int
) -> Path:
    """The rotation protocol as files; manifest columns path, label, group, angle. Groups:
    source (source + val rows), pool (label empty: hidden), target (target + test, labelled)."""
    domains = rotated_domains(images, labels, spec, seed)
    draws = _draws(len(images), spec, seed)
    if not (
        np.array_equal(draws["pool"][1], domains.pool_angles)
        and np.array_equal(labels[draws["source"][0]], domains.source_y)
        and np.array_equal(labels[draws["test"][0]], domains.test_y)
    ):
        raise RuntimeError("rotated_domains changed its draw order; update prepare._draws.")
    groups = {
        "source": (np.concatenate([domains.source_x, domains.val_x]), ("source", "val")),
        "pool": (domains.pool_x, ("pool",)),
        "target": (np.concatenate([domains.target_x, domains.test_x]), ("target", "test")),
    }
    parts = []
    for group, (x, blocks) in groups.items():
        index = np.concatenate([draws[b][0] for b in blocks])
        label = pd.array(labels[index], dtype="Int64")
        if group == "pool":
            label[:] = pd.NA
        angle = np.round(np.concatenate([draws[b][1] for b in blocks]), 4)
        table = pd.DataFrame({"label": label, "group": group, "angle": angle})
        parts.append(write_images(out_dir, x, table, group))
    return _write_manifest(out_dir, parts, ["path", "label", "group", "angle"])


def _write_manifest(out_dir: Path, parts: list[pd.DataFrame], columns: list[str]) -> Path:
    path = Path(out_dir) / MANIFEST
    pd.concat(parts, ignore_index=True)[columns].to_csv(path, index=False)
    return path


def prepare_rotating_mnist(
    out_dir: Path, seed: int = 0, spec: RotationSpec | None = None, root: Path | None = None
) -> Path:
    """Rotating MNIST (Kumar et al. 2020) from the MNIST training set, as files."""
    images, labels = load_mnist(root or data_root(), "train")
    return prepare_rotated(out_dir, images, labels, spec or RotationSpec(), seed)


def prepare_digits(out_dir: Path, seed: int = 0, spec: RotationSpec = DIGITS_SPEC) -> Path:
    """The rotated 8x8 digits demo (sklearn's bundled digits, as rotated_digits), as files."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images.astype(np.uint8), digits.target.astype(np.int64)
    return prepare_rotated(out_dir, images, labels, spec, seed)


def _subset(n: int, rows: int | None, seed: int) -> np.ndarray:
    if rows is None or rows >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))


def prepare_mnist_usps(
    out_dir: Path,
    root: Path | None = None,
    mnist_rows: int | None = None,
    usps_rows: int | None = None,
    seed: int = 0,
    pool_rows: int | None = 2000,
) -> Path:
    """MNIST -> USPS as benchmarks/digits_transfer.py sets it up; manifest columns path,
    label, domain, split. Rows: domain mnist = the MNIST train set (28x28, split train, the
    labelled source); domain usps = USPS (16x16, native size) split train (the unlabelled
    target) and split test (the target test set). `mnist_rows` / `usps_rows` keep a seeded
    subset (usps: over train and test together); `pool_rows` MNIST test images are written as
    domain mnist, split test (an intermediate pool of labelled source-like rows). Sizes differ
    on purpose: the scenario resizes with data.transform.size: [28, 28]."""
    root = root or data_root()
    mnist_x, mnist_y = load_mnist(root, "train")
    keep = _subset(len(mnist_x), mnist_rows, seed)
    mnist = pd.DataFrame({"label": mnist_y[keep], "domain": "mnist", "split": "train"})
    parts = [write_images(out_dir, mnist_x[keep], mnist, "mnist")]
    pool_x, pool_y = load_mnist(root, "test")
    keep = _subset(len(pool_x), pool_rows, seed)
    pool = pd.DataFrame({"label": pool_y[keep], "domain": "mnist", "split": "test"})
    parts.append(write_images(out_dir, pool_x[keep], pool, "mnist_test"))
    (train_x, train_y), (test_x, test_y) = load_usps(root, "train"), load_usps(root, "test")
    usps_x = np.concatenate([train_x, test_x])
    split = np.array(["train"] * len(train_x) + ["test"] * len(test_x))
    keep = _subset(len(usps_x), usps_rows, seed)
    usps = pd.DataFrame(
        {"label": np.concatenate([train_y, test_y])[keep], "domain": "usps", "split": split[keep]}
    )
    parts.append(write_images(out_dir, usps_x[keep], usps, "usps"))
    return _write_manifest(out_dir, parts, ["path", "label", "domain", "split"])
