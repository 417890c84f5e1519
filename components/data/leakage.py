"""Leakage guards: the domains (and the target's parts) must not share rows, and exact copies
of training rows among the target test rows are counted (and can be dropped)."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from components.errors import StepstoneError


def check_disjoint(
    splits: dict[str, pd.DataFrame], queries: dict[str, str], id_column: str = "row_id"
) -> None:
    """Raise if any two of `splits` (name -> rows) share a row id. `queries` maps a split's
    name to the `data.domains` query that cut it (parts of the target, such as
    `target_test`, may map to the target's query or be absent)."""
    ids = {}
    for name, rows in splits.items():
        if id_column not in rows.columns:
            raise StepstoneError(
                f"split {name!r} has no {id_column!r} column, so its rows cannot be checked "
                "for overlap; derive the row ids before cutting the domains."
            )
        ids[name] = pd.Index(rows[id_column])
    clashes = []
    for a, b in combinations(splits, 2):
        shared = ids[a].intersection(ids[b])
        if len(shared):
            clashes.append((a, b, shared))
    if not clashes:
        return
    lines = []
    for a, b, shared in clashes:
        example = ", ".join(str(v) for v in list(shared[:5]))
        lines.append(
            f"  {a} ({queries.get(a, 'no query')!r}) and {b} ({queries.get(b, 'no query')!r}) "
            f"share {len(shared)} row(s), e.g. {id_column} {example}"
        )
    raise StepstoneError(
        "the domains overlap, so the models would train on rows they are tested on:\n"
        + "\n".join(lines)
        + "\nMake the data.domains queries disjoint (every row in at most one domain)."
    )


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hashable key per row over `columns` (NaN equal to NaN, as in drop_duplicates)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StepstoneError(
            f"rows lack columns {missing} needed to compare feature rows; check data.schema."
        )
    # Numbers as float64 first, so 30 (int column) and 30.0 (a column with a NaN) match.
    normal = pd.DataFrame(
        {
            c: (
                frame[c].astype("float64")
                if pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_bool_dtype(frame[c])
                else frame[c]
            ).astype(str)
            for c in columns
        }
    )
    return pd.util.hash_pandas_object(normal, index=False)


def duplicate_rows(
    train: dict[str, pd.DataFrame], test: pd.DataFrame, columns: list[str]
) -> dict[str, int]:
    """How many of the `test` rows have an exact copy (over `columns`) in each training split."""
    test_keys = _row_keys(test, columns)
    return {
        name: int(test_keys.isin(set(_row_keys(rows, columns))).sum())
        for name, rows in train.items()
    }


def drop_duplicates_of(
    test: pd.DataFrame,
    train_frames: list[pd.DataFrame] | dict[str, pd.DataFrame],
    columns: list[str],
) -> pd.DataFrame:
    """`test` without the rows that have an exact copy (over `columns`) in any training frame."""
    frames = list(train_frames.values()) if isinstance(train_frames, dict) else list(train_frames)
    seen: set = set()
    for rows in frames:
        seen.update(_row_keys(rows, columns))
    return test[~_row_keys(test, columns).isin(seen).to_numpy()]
