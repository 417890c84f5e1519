"""The run's scratch folder: tasks hand each other file paths in it, never DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.modality import Encoder, Modality
from components.models.rows import Labelled

SPLITS = ("source", "intermediate", "target_labelled", "target_unlabelled", "target_test")


def write_split(workdir: str, name: str, rows: pd.DataFrame) -> str:
    path = Path(workdir) / f"{name}.parquet"
    rows.to_parquet(path, index=False)
    return str(path)


def read_split(workdir: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(workdir) / f"{name}.parquet")


def read_splits(workdir: str, *names: str) -> list[pd.DataFrame]:
    return [read_split(workdir, n) for n in names]


def labelled_rows(modality: Modality, encoder: Encoder, rows: pd.DataFrame) -> Labelled:
    """Encoded rows with their labels, class-balanced."""
    return Labelled.of(encoder.transform(rows), modality.labels(encoder, rows), balance=True)


def has_labels(rows: pd.DataFrame, label: str) -> bool:
    """A split counts as labelled when its label column exists and holds any value."""
    return label in rows.columns and bool(rows[label].notna().any())
