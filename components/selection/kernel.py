"""Kernel selection: the MMD witness function between source and target, estimated with
random Fourier features so that scoring is linear in the number of rows."""

from __future__ import annotations

import numpy as np

from components.selection.base import Domains, Selection, SelectionSpec, from_scores

BATCH = 8192


def median_bandwidth(x: np.ndarray, rng: np.random.Generator, sample: int = 1000) -> float:
    """The median pairwise distance of (a sample of) the rows: the usual RBF bandwidth."""
    rows = x[rng.choice(len(x), size=min(sample, len(x)), replace=False)]
    sq = (rows**2).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * rows @ rows.T, 0.0))
    median = float(np.median(dist[np.triu_indices(len(rows), k=1)])) if len(rows) > 1 else 1.0
    return median if median > 0 else 1.0


class RandomFourierFeatures:
    """phi(x) with phi(x) . phi(y) ~ exp(-||x - y||^2 / (2 bandwidth^2)) (Rahimi and Recht 2007)."""

    def __init__(self, width: int, n_features: int, bandwidth: float, rng: np.random.Generator):
        self.w = (rng.normal(size=(width, n_features)) / bandwidth).astype(np.float32)
        self.b = rng.uniform(0, 2 * np.pi, size=n_features).astype(np.float32)
        self.scale = np.float32(np.sqrt(2.0 / n_features))

    def mean_embedding(self, x: np.ndarray) -> np.ndarray:
        """The average feature vector of the rows (the kernel mean embedding)."""
        total = np.zeros(len(self.b), dtype=np.float64)
        for start in range(0, len(x), BATCH):
            total += self(x[start : start + BATCH]).sum(0)
        return total / len(x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.scale * np.cos(x.astype(np.float32) @ self.w + self.b)


def witness(source: np.ndarray, pool: np.ndarray, target: np.ndarray, n_features: int, seed: int):
    """MMD witness mu_target(x) - mu_source(x) at each pool row: > 0 where the row looks more
    like the target than the source. Features are standardised on source + target."""
    rng = np.random.default_rng(seed)
    both = np.concatenate([source, target])
    mean, std = both.mean(0), both.std(0) + 1e-6
    source, pool, target = ((x - mean) / std for x in (source, pool, target))
    bandwidth = median_bandwidth(np.concatenate([source, target]), rng)
    rff = RandomFourierFeatures(source.shape[1], n_features, bandwidth, rng)
    direction = rff.mean_embedding(target) - rff.mean_embedding(source)
    return np.concatenate(
        [rff(pool[s : s + BATCH]) @ direction for s in range(0, len(pool), BATCH)]
    )


def kernel(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Score pool rows by the random-feature MMD witness; keep the most target-like."""
    flat = [x.reshape(len(x), -1) for x in (domains.source, domains.pool, domains.target)]
    return from_scores(domains.pool_ids, witness(*flat, spec.rff_features, seed), spec)
