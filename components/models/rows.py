"""Rows as the networks see them, torch-free: `Inputs` (encoded table rows or an array) and
`Labelled` (inputs with labels and row weights)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.data.preprocess import Encoded

Inputs = Encoded | np.ndarray


def take(x: Inputs, index: np.ndarray) -> Inputs:
    """Rows `index` of tabular or array inputs."""
    return x.take(index) if isinstance(x, Encoded) else x[index]


def concat(parts: list[Inputs]) -> Inputs:
    """Stack inputs of the same kind."""
    return Encoded.concat(parts) if isinstance(parts[0], Encoded) else np.concatenate(parts)


@dataclass(frozen=True)
class Labelled:
    """Inputs with labels ({0, 1} for binary, class indices for k classes) and row weights."""

    x: Inputs
    y: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, x: Inputs, y: np.ndarray, balance: bool = False) -> Labelled:
        """Rows with unit weights, or class-balanced weights (each of k classes sums to n/k)
        so that a domain's class mix does not have to be explained by its features."""
        weight = np.ones(len(y), dtype=np.float32)
        if balance:
            classes, counts = np.unique(y, return_counts=True)
            if len(classes) > 1:
                per_class = dict(zip(classes.tolist(), (len(y) / (len(classes) * counts)).tolist()))
                weight = np.array([per_class[v] for v in y.tolist()], dtype=np.float32)
        return cls(x, y, weight)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: np.ndarray) -> Labelled:
        return Labelled(take(self.x, index), self.y[index], self.weight[index])

    @staticmethod
    def concat(parts: list[Labelled]) -> Labelled:
        return Labelled(
            concat([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.weight for p in parts]),
        )
