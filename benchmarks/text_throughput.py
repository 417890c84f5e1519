"""Text throughput: reviews per second of the fine-tuned transformer (the shipped
all-MiniLM-L6-v2, `model.kind: transformer`) and of the TF-IDF MLP, through the product's own
pieces: the text modality of configs/amazon_books_kitchen.yaml builds the encoder and the
network, components.models.loop.fit trains, components.models.training.predict_proba scores.
Books reviews from the Amazon table that `stepstone data amazon-reviews` writes (read from
$STEPSTONE_DATA_ROOT, written to a temp dir). One JSON line.

    uv run python benchmarks/text_throughput.py [--rows 256] [--repeats 3] [--device auto]

Measured per encoder, `repeats` times: tokenising / vectorising (`encode`), inference
(`predict`) and fine-tuning one epoch (`train`, batch 16 for the transformer, 64 for TF-IDF).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from machine import machine  # benchmarks/machine.py, beside this file

from components.data.amazon_reviews import prepare_amazon_reviews
from components.evaluation import summarise_seeds
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import predict_proba, resolve_device, seed_everything
from pipelines.config import REPO_ROOT, load_config

MODELS = {"transformer": {"kind": "transformer", "max_length": 128}, "tfidf_mlp": {}}
BATCH = {"transformer": 16, "tfidf_mlp": 64}


def rates(kind: str, reviews: pd.DataFrame, path: Path, seed: int, device) -> dict[str, float]:
    """Reviews/s of encode, predict and one training epoch for one model kind."""
    overrides = {"data.path": str(path)}
    if MODELS[kind]:
        overrides["model"] = MODELS[kind]
    config = load_config(REPO_ROOT / "configs" / "amazon_books_kitchen.yaml", overrides)
    modality = config.modality_impl()
    encoder = modality.fit_encoder(reviews)
    start = time.perf_counter()
    x = encoder.transform(reviews)
    encode = len(reviews) / (time.perf_counter() - start)
    seed_everything(seed)
    model = modality.build_model(encoder, seed)
    data = Labelled.of(x, modality.labels(encoder, reviews))
    spec = TrainSpec(epochs=1, batch_size=BATCH[kind], lr=2e-5 if kind == "transformer" else 1e-3)
    start = time.perf_counter()
    fit(model, data, spec, seed=seed, device=device)
    train = len(reviews) / (time.perf_counter() - start)
    start = time.perf_counter()
    predict_proba(model, x)
    predict = len(reviews) / (time.perf_counter() - start)
    return {"encode": encode, "predict": predict, "train": train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        path = prepare_amazon_reviews(Path(tmp))
        books = pd.read_parquet(path).query("domain == 'books'")
        books = books.sample(args.rows, random_state=0).reset_index(drop=True)
        results = {}
        for kind in MODELS:
            runs = [rates(kind, books, path, seed, device) for seed in range(args.repeats)]
            results[kind] = {
                step: {
                    **{k: round(v, 1) for k, v in summarise_seeds([r[step] for r in runs]).items()},
                    "per_repeat": [round(r[step], 1) for r in runs],
                }
                for step in ("encode", "predict", "train")
            }
    print(
        json.dumps(
            {
                "benchmark": "text_throughput",
                "unit": "reviews/s",
                "rows": args.rows,
                "repeats": args.repeats,
                "max_length": MODELS["transformer"]["max_length"],
                "results": results,
                "device": str(device)
                + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
