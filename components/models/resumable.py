"""Per-epoch training checkpoints, so that a killed or preempted run continues where it was.

Inside `epoch_checkpoints(folder, name)`, every call of the training loop (`loop.train_joint`)
claims the next file `folder/name-<n>.pt` (calls come in the same order on a rerun with the
same seed and data) and writes its whole state there at the end of each epoch: weights,
optimiser, learning-rate schedule, every random generator and the batch order. A rerun that
finds the file restores it and trains only the steps that are left, so it ends with the same
weights as a run that was never stopped. A file from another shape of training (other step
count, rows or batch size) is ignored and overwritten. Outside the context nothing is written.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import torch

_CURRENT: ContextVar[tuple[Path, str, itertools.count] | None] = ContextVar(
    "stepstone_epoch_checkpoints", default=None
)


@contextlib.contextmanager
def epoch_checkpoints(folder: str | Path, name: str) -> Iterator[Path]:
    """Checkpoint every training loop run in this block under `folder` (created)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    token = _CURRENT.set((path, name, itertools.count()))
    try:
        yield path
    finally:
        _CURRENT.reset(token)


def claim() -> Path | None:
    """The checkpoint file of the training loop that starts now, or None outside the context."""
    current = _CURRENT.get()
    if current is None:
        return None
    folder, name, counter = current
    return folder / f"{name}-{next(counter)}.pt"


def rng_state() -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, state: dict) -> None:
    """Write atomically: a kill during the write leaves the previous epoch's file intact."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def load(path: Path | None, signature: dict) -> dict | None:
    """The saved state at `path` if it exists and was written by training of this `signature`."""
    if path is None or not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state if state.get("signature") == signature else None
