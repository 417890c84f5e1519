"""The user's own image files (PNG/JPEG), decoded through torchvision into float arrays, and
the manifests (CSV/Parquet tables or ImageFolder-style folders) that list them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from components.data.image_transform import ImageTransform
from components.errors import StepstoneError

# torchvision is imported inside the functions that use it: it takes seconds (startup time).
if TYPE_CHECKING:
    from torchvision.transforms import v2

THREADS = min(8, max(4, os.cpu_count() or 1))
LAYOUT = "root/<domain>/<class>/<image>.png (one folder per domain, one per class inside it)"


class _PerImage:
    """Applies a v2 transform to each image of a batch [n, c, h, w] (own random draw each)."""

    def __init__(self, make: Callable[[tuple[int, int]], v2.Transform]):
        self.make, self.cache = make, {}

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        hw = (int(batch.shape[-2]), int(batch.shape[-1]))
        if hw not in self.cache:
            self.cache[hw] = self.make(hw)
        return torch.stack([self.cache[hw](img) for img in batch])


def augmenter(transform: ImageTransform) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The training-time augmentation of a float batch [n, c, h, w]; None for "none"."""
    from torchvision.transforms import v2

    if transform.augment == "flip":
        return _PerImage(lambda hw: v2.RandomHorizontalFlip())
    if transform.augment == "crop":
        return _PerImage(lambda hw: v2.RandomResizedCrop(hw, scale=(0.8, 1.0), antialias=True))
    return None


def _channels_and_size(transform: ImageTransform) -> v2.Transform | None:
    from torchvision.transforms import v2

    steps: list[v2.Transform] = []
    if transform.channels == 1:
        steps.append(v2.Grayscale(1))
    elif transform.channels == 3:
        steps.append(v2.RGB())
    if transform.size is not None:
        steps.append(v2.Resize(list(transform.size), antialias=True))
    return v2.Compose(steps) if steps else None


def _decode_chunk(paths: Sequence[str]) -> list[torch.Tensor]:
    from torchvision.io import ImageReadMode, decode_image

    out = []
    for path in paths:
        if not os.path.isfile(path):
            raise StepstoneError(
                f"image file {path} not found; fix the manifest's path column (relative paths "
                "are read from the manifest's folder)."
            )
        try:
            img = decode_image(path, mode=ImageReadMode.UNCHANGED)
        except (RuntimeError, ValueError) as err:
            raise StepstoneError(f"{path} is not a decodable PNG/JPEG image ({err}).") from None
        if img.ndim == 2:
            img = img[None]
        out.append(img[:-1] if img.shape[0] in (2, 4) else img)  # drop an alpha channel
    return out


def _transformed(images: list[torch.Tensor], step: v2.Transform | None) -> torch.Tensor:
    """Stack `images`, applying `step` to each group of same-shaped images as one batch."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape), []).append(i)
    if len(groups) == 1 or step is None:
        batch = torch.stack(images)
        return step(batch) if step is not None else batch
    out: list[torch.Tensor | None] = [None] * len(images)
    for index in groups.values():
        for i, img in zip(index, step(torch.stack([images[i] for i in index]))):
            out[i] = img
    return torch.stack(out)  # type: ignore[arg-type]


def _agree(paths: Sequence[str], values: list, what: str, fix: str) -> None:
    odd = next((i for i, v in enumerate(values) if v != values[0]), None)
    if odd is not None:
        raise StepstoneError(
            f"images differ in {what}: {paths[0]} is {values[0]}, {paths[odd]} is "
            f"{values[odd]}; set {fix}."
        )


def decode_images(paths: Sequence[str | Path], transform: ImageTransform) -> np.ndarray:
    """Float32 [n, c, h, w] in [0, 1] (normalised if mean/std are set), in `paths` order."""
    from torchvision.transforms import v2  # before the threads, so they find it imported

    names = [str(p) for p in paths]
    if not names:
        raise StepstoneError("no images to decode; the manifest or folder lists no image files.")
    per_chunk = max(64, -(-len(names) // (THREADS * 4)))
    chunks = [names[i : i + per_chunk] for i in range(0, len(names), per_chunk)]
    with ThreadPoolExecutor(THREADS) as pool:
        images = [img for part in pool.map(_decode_chunk, chunks) for img in part]
    if transform.channels is None:
        channels = [int(img.shape[0]) for img in images]
        _agree(names, channels, "channels", "data.transform.channels: 1 or 3")
    if transform.size is None:
        sizes = [[int(img.shape[1]), int(img.shape[2])] for img in images]
        _agree(names, sizes, "size [H, W]", "data.transform.size: [H, W]")
    batch = _transformed(images, _channels_and_size(transform))
    batch = v2.ToDtype(torch.float32, scale=True)(batch)
    if transform.mean is not None and transform.std is not None:
        if len(transform.mean) != batch.shape[1]:
            raise StepstoneError(
                f"data.transform.mean/std have {len(transform.mean)} values but the images "
                f"have {batch.shape[1]} channels; give one value per channel."
            )
        batch = v2.Normalize(list(transform.mean), list(transform.std))(batch)
    return batch.numpy()


def read_manifest(path: Path, path_column: str = "path") -> pd.DataFrame:
    """A CSV or Parquet table of images; `path_column` resolved to absolute paths (relative
    ones are read from the manifest's folder). Other columns as read (NaN = unlabelled)."""
    path = Path(path)
    if not path.is_file():
        raise StepstoneError(f"image manifest {path} not found; check images.manifest.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        else:
            raise StepstoneError(
                f"image manifest {path} must be .csv, .parquet or .pq (got {suffix!r})."
            )
    except (ValueError, OSError) as err:
        raise StepstoneError(f"cannot read image manifest {path}: {err}") from None
    if path_column not in table.columns:
        raise StepstoneError(
            f"image manifest {path} has no column {path_column!r} (columns: "
            f"{list(table.columns)}); add it or set images.path_column."
        )
    missing = table[path_column].isna()
    if missing.any():
        raise StepstoneError(
            f"image manifest {path}: column {path_column!r} is empty in row "
            f"{int(np.argmax(missing.to_numpy()))}; every row needs an image path."
        )
    base = path.resolve().parent
    table = table.copy()
    table[path_column] = [os.path.abspath(base / str(p)) for p in table[path_column]]
    return table


def folder_manifest(root: Path) -> pd.DataFrame:
    """Columns path (absolute), label (class folder name) and domain (domain folder name)
    from an ImageFolder layout per domain: root/<domain>/<class>/<image>. Images directly in
    a domain folder are unlabelled (an empty label), e.g. an intermediate pool."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    root = Path(root)
    if not root.is_dir():
        raise StepstoneError(f"image folder {root} not found; expected {LAYOUT}.")
    rows = []
    for domain in sorted(d for d in os.listdir(root) if (root / d).is_dir()):
        loose = sorted(os.path.abspath(p) for p in (root / domain).iterdir() if _is_image(p))
        rows += [(file, None, domain) for file in loose]
        try:
            classes, to_index = find_classes(root / domain)
        except FileNotFoundError:
            continue
        for file, index in make_dataset(root / domain, to_index, IMG_EXTENSIONS, allow_empty=True):
            rows.append((os.path.abspath(file), classes[index], domain))
    if not rows:
        raise StepstoneError(f"image folder {root} holds no images; expected {LAYOUT}.")
    return pd.DataFrame(rows, columns=["path", "label", "domain"])


def _is_image(path: Path) -> bool:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return path.is_file() and path.suffix.lower() in IMG_EXTENSIONS


def image_listing(source: Path, path_column: str = "path") -> pd.DataFrame:
    """Images to score: a manifest file, a flat folder of images (column `path` only,
    sorted), or a root/<domain>/<class>/ folder."""
    source = Path(source)
    if source.is_file():
        return read_manifest(source, path_column)
    if not source.is_dir():
        raise StepstoneError(f"{source} not found; give an image manifest or an image folder.")
    flat = sorted(os.path.abspath(p) for p in source.iterdir() if _is_image(p))
    if flat:
        return pd.DataFrame({"path": flat})
    return folder_manifest(source)


def files_digest(paths: Sequence[str | Path]) -> str:
    """Md5 over (name relative to the files' common folder, bytes) of each file, in order."""
    names = [os.path.abspath(p) for p in paths]
    if not names:
        return hashlib.md5(b"").hexdigest()
    base = os.path.commonpath([os.path.dirname(n) for n in names])
    digest = hashlib.md5()
    for name in names:
        try:
            data = Path(name).read_bytes()
        except OSError:
            raise StepstoneError(f"image file {name} cannot be read; fix the path.") from None
        digest.update(Path(os.path.relpath(name, base)).as_posix().encode() + b"\0")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()
