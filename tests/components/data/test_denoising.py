"""mSDA layers: words seen in one domain are mapped onto the words they co-occur with in the
other, so texts that share no word come closer; the encoder keeps its layers through the
checkpoint and the modality learns them from the non-test texts it is handed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.data.denoising import denoised, fit_denoisers
from components.data.texts import TfidfEncoder
from components.models import checkpoint
from components.models.text_nets import TextMLP


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_layer_bridges_words_that_share_a_neighbour():
    """'great' (books) and 'excellent' (kitchen) never meet, but both come with 'good': the
    denoised features of a text with only one of them overlap with those of the other."""
    rng = np.random.default_rng(0)
    words = ["great", "excellent", "good", "pan", "plot"]
    rows = []
    for _ in range(400):
        books = rng.random() < 0.5
        row = np.zeros(len(words), np.float32)
        row[0 if books else 1] = 1.0
        row[2] = float(rng.random() < 0.8)
        row[4 if books else 3] = float(rng.random() < 0.5)
        rows.append(row)
    x = np.stack(rows)
    weights = fit_denoisers(x, layers=2, noise=0.5, width=len(words))
    great, excellent = np.eye(len(words), dtype=np.float32)[:2]
    raw = _cosine(great, excellent)
    hidden = denoised(np.stack([great, excellent]), weights)[:, len(words) :]
    assert raw == 0.0 and _cosine(hidden[0], hidden[1]) > 0.3
    assert denoised(x, weights).shape == (400, len(words) * 3)


def test_the_first_layer_reconstructs_the_most_common_features():
    x = np.zeros((10, 4), np.float32)
    x[:, 2] = 1.0
    x[:5, 0] = 1.0
    (layer,) = fit_denoisers(x, layers=1, noise=0.3, width=2)
    assert layer.shape == (2, 5)  # features 2 and 0, from all four and the bias
    assert denoised(x, [layer]).shape == (10, 6)


def test_the_encoder_keeps_its_layers_through_a_checkpoint(tmp_path):
    rows = pd.DataFrame(
        {"text": ["great pan", "awful kettle", "great plot", "awful plot", "good pan"] * 4}
    )
    encoder = TfidfEncoder.fit(rows, "text", ["0", "1"], 50, 1, 1)
    deep = encoder.with_denoisers(rows, layers=2, noise=0.5, width=3)
    assert deep.width == encoder.width + 6
    assert deep.transform(rows).shape == (len(rows), deep.width)
    path = checkpoint.save(tmp_path / "m.pt", TextMLP(deep.width, 2, [4]), deep)
    _, again = checkpoint.load(path)
    assert np.allclose(again.transform(rows), deep.transform(rows), atol=1e-6)
    assert np.allclose(again.transform(rows)[:, : encoder.width], encoder.transform(rows))
