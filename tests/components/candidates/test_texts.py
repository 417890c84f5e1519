"""The TF-IDF logistic regressions offered to the choice stage for texts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.candidates.names import TEXTS as NAMES
from components.candidates.texts import text_candidates
from components.data.texts import TfidfEncoder

CLASSES = ["negative", "positive"]


def reviews(words: dict[str, str], n: int, seed: int) -> pd.DataFrame:
    """`n` reviews: a sentiment word (label) and a filler word each."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(CLASSES, n)
    fill = rng.choice(["the", "a", "it", "this"], n)
    text = [f"{fill[i]} {words[label]}" for i, label in enumerate(labels)]
    return pd.DataFrame({"text": text, "label": labels})


def fitted(source: pd.DataFrame, target: pd.DataFrame) -> dict:
    encoder = TfidfEncoder.fit(pd.concat([source, target]), "text", CLASSES, 100, 1, 1)
    candidates = text_candidates(source, encoder, "label", seed=0)
    assert tuple(c.name for c in candidates) == NAMES
    return {c.name: c.fit(target) for c in candidates if hasattr(c, "fit")}


def test_pooled_learns_the_target_words_the_source_never_had():
    source = reviews({"positive": "great", "negative": "awful"}, 80, seed=0)
    target = reviews({"positive": "sturdy", "negative": "leaks"}, 30, seed=1)
    models = fitted(source, target)
    new = pd.DataFrame({"text": ["it leaks", "this sturdy"]})
    assert models["tfidf_lr_pooled"].predict_proba(new).argmax(1).tolist() == [0, 1]
    source_only = models["tfidf_lr_source_only"].predict_proba(new)
    assert source_only.max() < 0.65  # words it never saw: next to no evidence either way


def test_a_class_missing_from_the_target_rows_gets_probability_zero():
    classes = ["negative", "neutral", "positive"]
    rows = pd.DataFrame({"text": ["awful", "fine", "great"] * 10, "label": classes * 10})
    target = rows[rows["label"] != "neutral"]
    encoder = TfidfEncoder.fit(rows, "text", classes, 100, 1, 1)
    target_only = text_candidates(rows, encoder, "label", seed=0)[0].fit(target)
    proba = target_only.predict_proba(rows)
    assert proba.shape == (len(rows), 3) and np.allclose(proba.sum(1), 1.0)
    assert (proba[:, 1] == 0).all() and proba[0].argmax() == 0 and proba[2].argmax() == 2
