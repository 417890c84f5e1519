"""Read the input table, add derived columns, and cut it into named domains."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from components.errors import StepstoneError

ROW_ID = "row_id"
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


class DerivedColumn(BaseModel):
    """A column computed from others. `month_wraparound` counts wrap-arounds of a
    month-name column in row order (rows must be in date order) and adds `start`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["month_wraparound"]
    column: str
    start: int = 0


def read_table(path: str | Path, separator: str = ",") -> pd.DataFrame:
    """Read a CSV (optionally gzipped) and add a stable `row_id` (0-based file row)."""
    path = Path(path)
    if not path.is_file():
        raise StepstoneError(
            f"data file not found: {path}. Set data.path in the scenario YAML to an existing "
            "CSV, or run `dvc pull` to fetch the DVC-tracked default data."
        )
    try:
        table = pd.read_csv(path, sep=separator)
    except (
        OSError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        EOFError,
    ) as exc:
        raise StepstoneError(
            f"cannot read {path} as a CSV with separator {separator!r}: {exc}. "
            "Check the file is a (gzipped) CSV and data.separator matches it."
        ) from exc
    if table.empty:
        raise StepstoneError(f"{path} has no data rows. Point data.path at a non-empty CSV.")
    if ROW_ID in table.columns:
        raise StepstoneError(f"{path} already has a column named {ROW_ID!r}; rename it.")
    table.insert(0, ROW_ID, range(len(table)))
    return table


def month_wraparound(months: pd.Series, start: int) -> pd.Series:
    """Year of each row of a date-ordered month column: `start` plus the number of
    times the month went backwards so far (dec -> mar is a new year)."""
    if months.isna().any():
        raise StepstoneError(
            f"month column {months.name!r} has {int(months.isna().sum())} missing values; the "
            "year derivation needs a month on every row. Fill them or drop those rows."
        )
    unknown = sorted(set(months.astype(str).str.lower()) - set(MONTHS))
    if unknown:
        raise StepstoneError(
            f"month column has values {unknown} that are not month abbreviations "
            f"({', '.join(MONTHS)}); fix the data or drop the month_wraparound derivation."
        )
    index = months.astype(str).str.lower().map(MONTHS.index)
    wrapped = (index.diff() < 0).cumsum()
    return (wrapped + start).astype("int64")


def add_derived(table: pd.DataFrame, derived: list[DerivedColumn]) -> pd.DataFrame:
    """Return a copy of `table` with the derived columns added."""
    table = table.copy()
    for spec in derived:
        if spec.column not in table.columns:
            raise StepstoneError(
                f"derived column {spec.name!r} needs column {spec.column!r}, which the data "
                f"lacks. Available columns: {sorted(map(str, table.columns))}."
            )
        table[spec.name] = month_wraparound(table[spec.column], spec.start)
    return table


STEP = "intermediate_step"  # a pool row's stepping stone, when the queries are a list


def split_domains(
    table: pd.DataFrame, queries: dict[str, str | list[str]]
) -> dict[str, pd.DataFrame]:
    """Cut `table` into domains with pandas query strings, e.g. {"source": "year == 2008"}.
    A list of queries is one domain of ordered stepping stones: its rows carry their
    position in the list in column `STEP`; a row may belong to one stone only."""
    domains = {}
    for name, query in queries.items():
        if isinstance(query, str):
            domains[name] = _query(table, name, query).reset_index(drop=True)
            continue
        stones = [_query(table, f"{name}[{i}]", q).assign(**{STEP: i}) for i, q in enumerate(query)]
        both = pd.concat([stone.index.to_series() for stone in stones]).duplicated()
        if both.any():
            raise StepstoneError(
                f"data.domains.{name}: {int(both.sum())} row(s) match two of its queries "
                f"(e.g. file row {both[both].index[0]}); make the stepping stones disjoint."
            )
        domains[name] = pd.concat(stones).reset_index(drop=True)
    return domains


def _query(table: pd.DataFrame, name: str, query: str) -> pd.DataFrame:
    try:
        return table.query(query)
    except Exception as exc:  # pandas raises many kinds for a bad query
        raise StepstoneError(
            f"domain {name!r}: query {query!r} failed ({type(exc).__name__}: {exc}). "
            "Fix data.domains in the scenario YAML; columns with dots need backticks, "
            "e.g. `emp.var.rate` > 0."
        ) from exc
