"""A small table of reviews written as a user would have it: a CSV with the text, a
sentiment label and the shop it came from. Both shops share the sentiment words ("great",
"awful"); each has its own product words, and the second shop's negative reviews also use
a word the first never does ("leaks")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = {"positive": ["great", "love it", "excellent"], "negative": ["awful", "waste", "broke"]}
SHOP_WORDS = {
    "books": ["novel", "plot", "author", "chapter"],
    "music": ["album", "song", "band", "chapter"],
    "kitchen": ["blender", "pan", "knife", "kettle"],
}
OWN = {"kitchen": {"negative": ["leaks"]}}


def review(shop: str, label: str, rng: np.random.Generator) -> str:
    words = list(rng.choice(SHOP_WORDS[shop], 3)) + list(rng.choice(["the", "a", "it", "this"], 3))
    cues = SHARED[label] + OWN.get(shop, {}).get(label, [])
    words.append(str(rng.choice(cues)))
    rng.shuffle(words)
    return " ".join(words)


def write_user_texts(root: Path, per_shop: dict[str, int] | None = None, seed: int = 0) -> Path:
    """Write `root/reviews.csv` (text, label, shop); return its path."""
    per_shop = per_shop or {"books": 300, "music": 200, "kitchen": 300}
    rng = np.random.default_rng(seed)
    rows = [
        {"text": review(shop, label, rng), "label": label, "shop": shop}
        for shop, n in per_shop.items()
        for label in rng.choice(["positive", "negative"], n)
    ]
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "reviews.csv", index=False)
    return root / "reviews.csv"


def text_config(table: Path, name: str = "user-texts", **changes) -> dict:
    """A scenario YAML (as a dict) over the table: books -> music -> kitchen."""
    raw = {
        "name": name,
        "modality": "text",
        "data": {
            "path": str(table),
            "label": {"column": "label", "classes": ["negative", "positive"]},
            "domains": {
                "source": "shop == 'books'",
                "intermediate": "shop == 'music'",
                "target": "shop == 'kitchen'",
            },
        },
        "model": {"kind": "tfidf_mlp", "max_features": 200, "hidden": [16]},
        "target": {"labelled": 40, "unlabelled": 100},
        "pretrain": {"epochs": 5, "batch_size": 32, "lr": 0.01},
        "selection": {"method": "discriminator", "fraction": 0.5, "chunks": 2},
        "adaptation": {"method": "dann", "train": {"epochs": 5, "batch_size": 32, "lr": 0.005}},
        "choice": {"folds": 3, "repeats": 1},
        "registry": {"model_name": name},
    }
    for key, value in changes.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) else value
    return raw
