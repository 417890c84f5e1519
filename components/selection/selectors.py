"""Intermediate-pool selectors, chosen by name in the scenario YAML.

Each takes a `Domains` (learned features of source, pool and target rows, the pool ids, and
optional side information), the spec and a seed, and returns a Selection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from components.errors import StepstoneError
from components.selection.base import (
    Domains,
    Selection,
    SelectionSpec,
    SideInfo,
    check_pool,
    from_scores,
    jitter_chunks,
)
from components.selection.ddtl import ddtl
from components.selection.graph import graph
from components.selection.kernel import kernel

Selector = Callable[[Domains, SelectionSpec, int], Selection]


def domain_scores(
    source: np.ndarray, pool: np.ndarray, target: np.ndarray, seed: int
) -> np.ndarray:
    """p(target | x) for each pool row from a class-balanced logistic regression trained to
    tell source from target on standardised features."""
    x = np.concatenate([source, target])
    d = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(class_weight="balanced", max_iter=1000, random_state=seed)
    clf.fit(scaler.transform(x), d)
    return clf.predict_proba(scaler.transform(pool))[:, 1]


def discriminator(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Score each pool row by p(target | x) from a source-vs-target domain classifier, as
    IDOL does (its progressive re-scoring lives in adaptation.gradual)."""
    scores = domain_scores(domains.source, domains.pool, domains.target, seed)
    return from_scores(domains.pool_ids, scores, spec)


def take_all(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Baseline: the whole pool, in random order."""
    scores = np.random.default_rng(seed).random(len(domains.pool_ids))
    return from_scores(domains.pool_ids, scores, spec.model_copy(update={"fraction": 1.0}))


def random_subset(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Baseline: a random `fraction` of the pool, in random order."""
    scores = np.random.default_rng(seed).random(len(domains.pool_ids))
    return from_scores(domains.pool_ids, scores, spec)


def oracle(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """Benchmark upper bound: order by the true positions (only where they are known)."""
    if domains.side.positions is None:
        raise StepstoneError(
            "selection.method 'oracle' needs the pool's true positions; set selection.truth to "
            "the pool column that holds them, or choose another selection.method."
        )
    positions = np.asarray(domains.side.positions, dtype=np.float64)
    return from_scores(domains.pool_ids, positions, spec)


def given(domains: Domains, spec: SelectionSpec, seed: int) -> Selection:
    """The scenario's own order: data.domains.intermediate as a list of queries, every row
    kept, one chunk per stepping stone in the listed order (random order within a stone)."""
    if domains.side.steps is None:
        raise StepstoneError(
            "selection.method 'given' needs data.domains.intermediate as an ordered list of "
            "queries (the stepping stones); list them, or choose another selection.method."
        )
    steps = np.asarray(domains.side.steps, dtype=np.int64)
    tie = np.random.default_rng(seed).random(len(steps))
    rank = np.lexsort((tie, steps))
    order = np.empty(len(steps), dtype=np.int64)
    order[rank] = np.arange(len(steps))
    table = pd.DataFrame(
        {
            "row_id": domains.pool_ids,
            "score": steps.astype(np.float64),
            "order": order,
            "chunk": steps,
            "selected": True,
        }
    )
    return Selection(table.sort_values("order", ignore_index=True))


SELECTORS: dict[str, Selector] = {
    "discriminator": discriminator,
    "kernel": kernel,
    "graph": graph,
    "ddtl": ddtl,
    "all": take_all,
    "random": random_subset,
    "oracle": oracle,
    "given": given,
}


def check_inputs(
    source: np.ndarray, pool: np.ndarray, target: np.ndarray, pool_ids: np.ndarray, side: SideInfo
) -> None:
    """Fail before any training when the domains disagree in schema or the side info in length."""
    if pool.shape[1:] != source.shape[1:] or target.shape[1:] != source.shape[1:]:
        raise StepstoneError(
            f"source, pool and target features differ in shape ({source.shape[1:]}, "
            f"{pool.shape[1:]}, {target.shape[1:]}); the domains must share one schema."
        )
    if len(source) == 0 or len(target) == 0:
        raise StepstoneError(
            f"selection needs source and target rows, got {len(source)} and {len(target)}."
        )
    if len(pool_ids) != len(pool):
        raise StepstoneError(f"{len(pool_ids)} pool row ids for {len(pool)} pool rows.")
    for name, rows, values in [
        ("source_labels", source, side.source_labels),
        ("pool_labels", pool, side.pool_labels),
        ("target_labels", target, side.target_labels),
        ("positions", pool, side.positions),
        ("steps", pool, side.steps),
    ]:
        if values is not None and len(values) != len(rows):
            raise StepstoneError(f"{name} has {len(values)} entries for {len(rows)} rows.")


def select(
    source: np.ndarray,
    pool: np.ndarray,
    target: np.ndarray,
    pool_ids: np.ndarray,
    spec: SelectionSpec,
    seed: int = 0,
    side: SideInfo | None = None,
) -> Selection:
    """Run the selector named by `spec.method` after checking its inputs; cut its chunks
    with `spec.jitter`."""
    if spec.method not in SELECTORS:
        raise StepstoneError(
            f"unknown selection.method {spec.method!r}; valid: {sorted(SELECTORS)}."
        )
    side = side or SideInfo()
    check_inputs(source, pool, target, pool_ids, side)
    check_pool(len(pool_ids), spec)
    selection = SELECTORS[spec.method](Domains(source, pool, target, pool_ids, side), spec, seed)
    return jitter_chunks(selection, spec, seed)
