"""Marginalized stacked denoising autoencoders (mSDA; Chen, Xu, Weinberger & Sha, ICML 2012).

Each layer is the linear map W that best reconstructs its input from copies whose features
were dropped with probability `noise`, in expectation over every such corruption: a closed
form, one linear solve, no training loop. Learned on the texts of every domain (never their
labels), a layer maps words used in one domain onto the words they co-occur with in another;
the stacked outputs tanh(W [h; 1]), next to the input, are the features the classifier sees.

The first layer reconstructs only the `width` features present in the most rows from all
of them (Chen et al.'s shortcut for wide inputs); later layers map width -> width.
"""

from __future__ import annotations

import numpy as np


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)])


def _output(hidden: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One layer's output tanh(W [h; 1])."""
    return np.tanh(_with_bias(hidden) @ w.T)


def denoising_layer(x: np.ndarray, noise: float, keep: np.ndarray) -> np.ndarray:
    """W [len(keep), d + 1] minimising E ||x[:, keep] - W [x~; 1]||^2 over dropout x~ of x."""
    xb = _with_bias(x)
    scatter = (xb.T @ xb).astype(np.float64)
    survive = np.full(len(scatter), 1.0 - noise)
    survive[-1] = 1.0  # the bias is never dropped
    q = scatter * np.outer(survive, survive)
    np.fill_diagonal(q, survive * np.diag(scatter))
    p = scatter[:, keep] * survive[:, None]
    ridge = 1e-5 * np.eye(len(scatter))
    return np.linalg.solve(q + ridge, p).T.astype(np.float32)


def fit_denoisers(x: np.ndarray, layers: int, noise: float, width: int) -> list[np.ndarray]:
    """`layers` stacked mSDA layers over the rows x [n, d]."""
    keep = np.argsort(-(x > 0).sum(0), kind="stable")[: min(width, x.shape[1])]
    weights, hidden = [], x
    for _ in range(layers):
        weights.append(denoising_layer(hidden, noise, keep))
        hidden = _output(hidden, weights[-1])
        keep = np.arange(hidden.shape[1])
    return weights


def denoised(x: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """x next to every layer's output: [n, d + sum of the layers' widths]."""
    parts, hidden = [x], x
    for w in weights:
        hidden = _output(hidden, w)
        parts.append(hidden)
    return np.hstack(parts).astype(np.float32)
