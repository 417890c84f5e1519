"""Graph selection: a pool row's position between source and target as the harmonic function
on a k-nearest-neighbour graph (Zhu, Ghahramani and Lafferty, ICML 2003).

Source rows are pinned to 0 and target rows to 1; every pool row takes the weighted mean of
its neighbours' values. On a continuous shift (rotation, drift over time) that is where the
row sits along the path, and it does not saturate halfway the way p(target | x) does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
from scipy.sparse.linalg import cg, spsolve
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from components.selection.base import Domains, Selection, SelectionSpec, from_scores

# A weak pull towards 0.5 keeps the system solvable for pool rows with no path to an anchor.
PRIOR = 1e-6


def knn_graph(x: np.ndarray, neighbours: int) -> sps.csr_matrix:
    """Symmetric Gaussian-weighted kNN adjacency; bandwidth = median distance to the k-th
    neighbour."""
    k = min(neighbours, len(x) - 1)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    dist, idx = dist[:, 1:], idx[:, 1:]
    bandwidth = float(np.median(dist[:, -1])) or 1.0
    weights = np.exp(-((dist / bandwidth) ** 2))
    rows = np.repeat(np.arange(len(x)), k)
    adjacency = sps.csr_matrix((weights.ravel(), (rows, idx.ravel())), shape=(len(x), len(x)))
    return ((adjacency + adjacency.T) / 2).tocsr()


def harmonic_positions(
    source: np.ndarray, pool: np.ndarray, target: np.ndarray, neighbours: int, components: int
) -> np.ndarray:
    """The harmonic function on the graph over standardised, PCA-reduced features with source
    rows fixed at 0 and target rows at 1, read off at the pool rows (values in [0, 1])."""
    x = StandardScaler().fit_transform(np.concatenate([source, pool, target]).astype(np.float64))
    if x.shape[1] > components:
        x = PCA(components, random_state=0).fit_transform(x)
    adjacency = knn_graph(x, neighbours)
    n_source, n_pool = len(source), len(pool)
    free = np.arange(n_source, n_source + n_pool)
    fixed = np.r_[np.arange(n_source), np.arange(n_source + n_pool, len(x))]
    fixed_values = np.r_[np.zeros(n_source), np.ones(len(target))]
    degree = np.asarray(adjacency.sum(axis=1)).ravel()[free]
    laplacian = sps.diags(degree + PRIOR) - adjacency[free][:, free]
    rhs = adjacency[free][:, fixed] @ fixed_values + PRIOR * 0.5
    values, info = cg(laplacian, rhs, rtol=1e-8, maxiter=10 * n_pool)
    if info != 0:  # not converged: fall back to the exact sparse solve
        values = spsolve(laplacian.tocsc(), rhs)
    return np.clip(values, 0.0, 1.0)


def graph(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Score each pool row by its harmonic position between source (0) and target (1)."""
    scores = harmonic_positions(
        domains.source, domains.pool, domains.target, spec.graph_neighbours, spec.graph_components
    )
    return from_scores(domains.pool_ids, scores, spec)
