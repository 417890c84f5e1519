"""Turn raw table rows into model inputs: category indices and standardised numbers.

The fitted state is plain JSON, so a served model carries its own preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from components.data.schema import TableSchema
from components.errors import StepstoneError


@dataclass(frozen=True)
class Encoded:
    """Model inputs for n rows: `cat` int64 [n, n_cat] (0 = unseen level), `num` float32 [n, n_num]."""

    cat: np.ndarray
    num: np.ndarray

    def __len__(self) -> int:
        return len(self.cat)

    def take(self, index: np.ndarray) -> Encoded:
        return Encoded(self.cat[index], self.num[index])

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        return Encoded(
            np.concatenate([p.cat for p in parts]), np.concatenate([p.num for p in parts])
        )


@dataclass(frozen=True)
class TabularPreprocessor:
    """Category vocabularies from the schema; numeric means and scales from training rows."""

    levels: dict[str, list[str]]
    means: dict[str, float]
    scales: dict[str, float]

    @classmethod
    def fit(cls, rows: pd.DataFrame, schema: TableSchema) -> TabularPreprocessor:
        missing = [c for c in schema.feature_columns if c not in rows.columns]
        if missing:
            raise StepstoneError(f"training rows lack columns {missing} named in data.schema.")
        numeric = rows[list(schema.numeric)].astype("float64")
        scales = numeric.std(ddof=0).replace(0.0, 1.0).fillna(1.0)
        return cls(
            levels={col: [str(v) for v in vals] for col, vals in schema.categorical.items()},
            means={c: float(v) for c, v in numeric.mean().fillna(0.0).items()},
            scales={c: float(v) for c, v in scales.items()},
        )

    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes, one per categorical column (index 0 is the unseen level)."""
        return [len(v) + 1 for v in self.levels.values()]

    @property
    def columns(self) -> list[str]:
        return [*self.levels, *self.means]

    def transform(self, rows: pd.DataFrame) -> Encoded:
        missing = [c for c in self.columns if c not in rows.columns]
        if missing:
            raise StepstoneError(
                f"input rows lack columns {missing}; the model needs {self.columns}."
            )
        cat = np.zeros((len(rows), len(self.levels)), dtype=np.int64)
        for j, (col, vocab) in enumerate(self.levels.items()):
            lookup = {level: i + 1 for i, level in enumerate(vocab)}
            cat[:, j] = rows[col].astype(str).map(lookup).fillna(0).to_numpy(dtype=np.int64)
        num = np.zeros((len(rows), len(self.means)), dtype=np.float32)
        for j, col in enumerate(self.means):
            values = pd.to_numeric(rows[col], errors="coerce").astype("float64")
            num[:, j] = ((values - self.means[col]) / self.scales[col]).fillna(0.0)
        return Encoded(cat, num)

    def to_dict(self) -> dict:
        return {"levels": self.levels, "means": self.means, "scales": self.scales}

    @classmethod
    def from_dict(cls, state: dict) -> TabularPreprocessor:
        return cls(levels=state["levels"], means=state["means"], scales=state["scales"])


def encode_labels(rows: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """1.0 for the positive label, 0.0 for the negative one."""
    if schema.label.column not in rows.columns:
        raise StepstoneError(
            f"rows have no label column {schema.label.column!r}; add it or fix data.schema.label."
        )
    values = rows[schema.label.column]
    allowed = {schema.label.positive, schema.label.negative}
    bad = sorted(set(values.dropna().unique()) - allowed, key=str)
    if bad or values.isna().any():
        raise StepstoneError(
            f"label column {schema.label.column!r} holds {bad or 'missing values'}; allowed "
            f"are {sorted(allowed, key=str)}. Fix the data or data.schema.label."
        )
    return (values == schema.label.positive).to_numpy(dtype=np.float32)
