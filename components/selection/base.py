"""The Selection table every selector returns, and the shared ordering/chunking logic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import StepstoneError

COLUMNS = ["row_id", "score", "order", "chunk", "selected"]


class SelectionSpec(BaseModel):
    """Which selector, how much of the pool to keep, and how many chunks to cut it into
    (`given`: every pool row, one chunk per stepping stone of data.domains.intermediate).
    `truth` names a pool column holding each row's true position (angle, date), used only
    by `oracle` and the selection-quality report; `use_labels` hands labelled rows to the
    selector as side information (ddtl); `jitter` > 0 cuts the chunks along a noisy copy of
    the order (see `jitter_chunks`); the other knobs tune `kernel`, `graph` and `ddtl`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "discriminator"
    fraction: float = Field(0.5, gt=0, le=1)
    chunks: int = Field(4, ge=1)
    jitter: float = Field(0.0, ge=0)
    truth: str | None = None
    use_labels: bool = True
    rff_features: int = Field(512, ge=1)
    graph_neighbours: int = Field(10, ge=1)
    graph_components: int = Field(50, ge=1)
    ddtl_steps: int = Field(5, ge=1)
    ddtl_epochs: int = Field(5, ge=1)
    ddtl_hidden: int = Field(64, ge=1)


@dataclass(frozen=True)
class SideInfo:
    """Optional side information: labels of source, pool and target rows (class indices), the
    pool rows' true positions (source-like low, target-like high; only `oracle` uses them) and
    their stepping stones when the scenario lists them in order (only `given` uses them)."""

    source_labels: np.ndarray | None = None
    pool_labels: np.ndarray | None = None
    target_labels: np.ndarray | None = None
    positions: np.ndarray | None = None
    steps: np.ndarray | None = None


@dataclass(frozen=True)
class Domains:
    """What every selector sees: features of source, pool and target rows (same width), the
    pool rows' ids, and optional side information."""

    source: np.ndarray
    pool: np.ndarray
    target: np.ndarray
    pool_ids: np.ndarray
    side: SideInfo


@dataclass(frozen=True)
class Selection:
    """Per pool row: a score (higher = more target-like), an `order` from source-like (0)
    to target-like, a `chunk` index along that order (-1 if not selected), `selected`."""

    table: pd.DataFrame

    @property
    def selected_ids(self) -> np.ndarray:
        return self.table.loc[self.table["selected"], "row_id"].to_numpy()


def from_scores(row_ids: np.ndarray, scores: np.ndarray, spec: SelectionSpec) -> Selection:
    """Keep the top `fraction` of the pool by score; order and chunk the kept rows."""
    n_pool = len(row_ids)
    n_keep = round(spec.fraction * n_pool)
    check_pool(n_pool, spec)
    n_keep = max(n_keep, spec.chunks)
    order = np.empty(n_pool, dtype=np.int64)
    order[np.argsort(scores, kind="stable")] = np.arange(n_pool)
    selected = order >= n_pool - n_keep
    chunk = np.full(n_pool, -1, dtype=np.int64)
    chunk[selected] = cut(order[selected] - (n_pool - n_keep), spec.chunks)
    table = pd.DataFrame(
        {"row_id": row_ids, "score": scores, "order": order, "chunk": chunk, "selected": selected}
    )
    return Selection(table.sort_values("order", ignore_index=True))


def jitter_chunks(selection: Selection, spec: SelectionSpec, seed: int) -> Selection:
    """Re-cut the selected rows into `spec.chunks` equal chunks along their order plus Gaussian
    noise of std `spec.jitter` (a fraction of the order's length); the order, scores and
    selected rows stay as they are.

    A score that reads a row's position through a per-row nuisance (on Rotating MNIST a
    digit's own slant reads as rotation) makes each chunk of its order a biased slice: the
    rows whose nuisance hides their position. Cutting a noisy copy of the order instead
    spreads every chunk over a band of positions, as the chunks of the true order are spread
    over every slant; `docs/results/issue3/ordering_experiments.md` measures it."""
    if spec.jitter == 0.0:
        return selection
    table = selection.table.copy()
    kept = table["selected"].to_numpy()
    n_keep = int(kept.sum())
    rank = table.loc[kept, "order"].to_numpy() - (len(table) - n_keep)  # kept rows rank last
    noisy = (rank + 0.5) / n_keep + np.random.default_rng(seed).normal(0.0, spec.jitter, n_keep)
    table.loc[kept, "chunk"] = cut(np.argsort(np.argsort(noisy, kind="stable")), spec.chunks)
    return Selection(table)


def cut(rank: np.ndarray, chunks: int) -> np.ndarray:
    """The chunk of each of n rows ranked 0..n-1: `chunks` consecutive, near-equal runs."""
    return rank * chunks // len(rank)


def check_pool(n_pool: int, spec: SelectionSpec) -> None:
    """Fail early when the pool cannot be cut as configured (the spec bounds its own knobs)."""
    if n_pool == 0:
        raise StepstoneError(
            "the intermediate pool is empty; check data.domains.intermediate selects some rows."
        )
    if n_pool < spec.chunks:
        raise StepstoneError(
            f"the intermediate pool has {n_pool} rows, fewer than selection.chunks={spec.chunks}; "
            "add pool rows or lower selection.chunks."
        )
