"""Intermediate-pool selectors, chosen by name in the scenario YAML.

Each takes learned features of source, pool and target rows and returns a Selection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from components.errors import StepstoneError
from components.selection.base import Selection, SelectionSpec, check_pool, from_scores

Selector = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, SelectionSpec, int], Selection]


def discriminator(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    pool_ids: np.ndarray,
    spec: SelectionSpec,
    seed: int,
) -> Selection:
    """Score each pool row by p(target | x) from a source-vs-target domain classifier
    (class-balanced logistic regression on standardised features), as IDOL does."""
    x = np.concatenate([source, target])
    d = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed)
    clf.fit(scaler.transform(x), d)
    scores = clf.predict_proba(scaler.transform(pool))[:, 1]
    return from_scores(pool_ids, scores, spec)


def take_all(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    pool_ids: np.ndarray,
    spec: SelectionSpec,
    seed: int,
) -> Selection:
    """Baseline: the whole pool, in random order."""
    scores = np.random.default_rng(seed).random(len(pool_ids))
    return from_scores(pool_ids, scores, spec.model_copy(update={"fraction": 1.0}))


def random_subset(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    pool_ids: np.ndarray,
    spec: SelectionSpec,
    seed: int,
) -> Selection:
    """Baseline: a random `fraction` of the pool, in random order."""
    scores = np.random.default_rng(seed).random(len(pool_ids))
    return from_scores(pool_ids, scores, spec)


SELECTORS: dict[str, Selector] = {
    "discriminator": discriminator,
    "all": take_all,
    "random": random_subset,
}


def select(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    pool_ids: np.ndarray,
    spec: SelectionSpec,
    seed: int = 0,
) -> Selection:
    """Run the selector named by `spec.method` after checking its inputs."""
    if spec.method not in SELECTORS:
        raise StepstoneError(
            f"unknown selection.method {spec.method!r}; valid: {sorted(SELECTORS)}."
        )
    if pool.shape[1:] != source.shape[1:] or target.shape[1:] != source.shape[1:]:
        raise StepstoneError(
            f"source, pool and target features differ in shape ({source.shape[1:]}, "
            f"{pool.shape[1:]}, {target.shape[1:]}); the domains must share one schema."
        )
    check_pool(len(pool_ids), spec)
    return SELECTORS[spec.method](source, pool, target, pool_ids, spec, seed)
