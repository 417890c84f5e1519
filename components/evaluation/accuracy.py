"""Metrics for k-class classifiers (images, texts): accuracy with a bootstrap interval."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Top-1 accuracy of class probabilities [n, k] against class indices [n]."""
    return {"accuracy": float((np.asarray(proba).argmax(1) == np.asarray(y_true)).mean())}


def accuracy_ci(
    y_true: np.ndarray, proba: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile (1 - alpha) interval of accuracy over `n_boot` row resamples (seeded, so
    arms scored on the same rows see the same resamples)."""
    hit = (np.asarray(proba).argmax(1) == np.asarray(y_true)).astype(np.float64)
    picks = np.random.default_rng(seed).integers(0, len(hit), size=(n_boot, len(hit)))
    lo, hi = np.quantile(hit[picks].mean(1), [alpha / 2, 1 - alpha / 2])
    return {"accuracy": (float(lo), float(hi))}
