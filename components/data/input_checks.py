"""Checks on rows handed to a served tabular model (the `stepstone score` CSV, a
`mlflow models serve` request): refuse what cannot be scored with a message naming the
column and row, and count what can be scored but was never seen in training."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from components.errors import StepstoneError


@dataclass(frozen=True)
class InputReport:
    """What the checks found in scorable rows: per categorical column, how many rows hold a
    value the model never saw (scored as the 'unseen' level) and a few of those values."""

    rows: int
    unknown: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """'' when every category was known, else e.g. "unknown categories: job 3 ('astronaut')"."""
        if not self.unknown:
            return ""
        parts = [
            f"{col} {n} ({', '.join(repr(v) for v in self.examples.get(col, []))})"
            for col, n in self.unknown.items()
        ]
        return "unknown categories (scored as unseen): " + "; ".join(parts)


def check_rows(
    rows: pd.DataFrame, categorical: dict[str, list[str]], numeric: list[str]
) -> InputReport:
    """Raise StepstoneError for an empty input, missing columns, or a numeric column holding a
    value that is not a number (blank cells are allowed: they are scored as the training mean);
    return the unknown-category counts. Rows are numbered from 1 (the first data row)."""
    needed = [*categorical, *numeric]
    if len(rows) == 0:
        raise StepstoneError(
            f"the input has no rows to score; pass at least one row with the columns {needed}."
        )
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise StepstoneError(
            f"the input lacks column(s) {missing} that the model needs; add them (all of "
            f"{needed} are required; other columns are ignored)."
        )
    for col in numeric:
        values = rows[col]
        if pd.api.types.is_bool_dtype(values):
            raise StepstoneError(
                f"column {col!r} must be numeric but holds true/false values; "
                "pass numbers (blank cells are allowed)."
            )
        if pd.api.types.is_numeric_dtype(values):
            continue
        as_number = pd.to_numeric(values, errors="coerce")
        bad = as_number.isna() & values.notna() & (values.astype(str).str.strip() != "")
        if bad.any():
            position = int(bad.to_numpy().argmax())
            raise StepstoneError(
                f"column {col!r} must be numeric, but row {position + 1} holds "
                f"{values.iloc[position]!r} ({int(bad.sum())} bad value(s) in that column); "
                "fix those values or leave the cells blank."
            )
    unknown, examples = {}, {}
    for col, vocab in categorical.items():
        values = rows[col].astype(str)
        new = ~values.isin(set(map(str, vocab)))
        if new.any():
            unknown[col] = int(new.sum())
            examples[col] = sorted(values[new].unique())[:3]
    return InputReport(rows=len(rows), unknown=unknown, examples=examples)
