"""A small image dataset written as a user would have it: PNG files per site and a manifest
(path relative to it, label, site; empty labels on the unlabelled pool)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchvision.io import write_png

SITES = {"north": 0.0, "harbour": 0.5, "south": 1.0}  # brightness shift grows north -> south


def image(label: int, shift: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """A size x size RGB image: class 1 has a bright left half, class 0 a bright right half;
    every site adds its own tint, so the domains differ."""
    x = rng.normal(0.2, 0.1, (3, size, size))
    half = size // 2
    if label:
        x[:, :, :half] += 0.6
    else:
        x[:, :, half:] += 0.6
    x[0] += 0.4 * shift  # a warmer tint further south
    x[2] -= 0.2 * shift
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def write_user_images(
    root: Path, per_site: dict[str, int] | None = None, size: int = 12, seed: int = 0
) -> Path:
    """Write the images and `root/manifest.csv`; return the manifest path."""
    per_site = per_site or {"north": 240, "harbour": 160, "south": 160}
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for site, n in per_site.items():
        for i in range(n):
            label = int(rng.integers(0, 2))
            name = f"images/{site}_{i:04d}.png"
            write_png(torch.from_numpy(image(label, SITES[site], rng, size)), str(root / name))
            rows.append({"path": name, "label": label, "site": site})
    manifest = pd.DataFrame(rows)
    manifest.loc[manifest["site"] == "harbour", "label"] = None  # the pool is unlabelled
    manifest["label"] = manifest["label"].astype("Int64")
    manifest.to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def image_config(manifest: Path, name: str = "user-images", **changes) -> dict:
    """A scenario YAML (as a dict) over the manifest: north -> harbour -> south."""
    raw = {
        "name": name,
        "modality": "image",
        "data": {
            "path": str(manifest),
            "domains": {
                "source": "site == 'north'",
                "intermediate": "site == 'harbour'",
                "target": "site == 'south'",
            },
            "label": {"column": "label", "classes": [0, 1]},
            "transform": {"channels": 3},
        },
        "model": {"kind": "small_cnn", "channels": 8},
        "target": {"labelled": 0, "unlabelled": 60},
        "validation": {"min_rows": 20},
        "pretrain": {"epochs": 4, "batch_size": 32, "lr": 0.003},
        "selection": {"method": "discriminator", "fraction": 1.0, "chunks": 2},
        "transit": {"path": "gradual", "gradual": {"train": {"epochs": 2, "batch_size": 32}}},
        "evaluation": {"bootstrap": 50},
        "registry": {"model_name": f"stepstone-{name}"},
    }
    for key, value in changes.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) else value
    return raw
