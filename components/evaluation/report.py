"""Side-by-side tables of arm metrics, as a DataFrame, a Markdown pipe table or terminal text."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from components.evaluation.metrics import METRIC_NAMES


def comparison_table(
    results: dict[str, dict[str, float]],
    cis: dict[str, dict[str, tuple[float, float]]] | None = None,
) -> pd.DataFrame:
    """One row per arm (index `arm`), sorted by AUC descending; `<metric>_lo/_hi` columns if `cis`.

    Metrics are in `METRIC_NAMES` order, then any extra metrics; missing values are NaN.
    """
    extra = sorted({m for row in results.values() for m in row} - set(METRIC_NAMES))
    metrics = [m for m in METRIC_NAMES if any(m in row for row in results.values())] + extra
    rows: dict[str, dict[str, float]] = {}
    for arm, values in results.items():
        row: dict[str, float] = {}
        for m in metrics:
            row[m] = float(values.get(m, math.nan))
            if cis is not None:
                lo, hi = cis.get(arm, {}).get(m, (math.nan, math.nan))
                row[f"{m}_lo"], row[f"{m}_hi"] = float(lo), float(hi)
        rows[arm] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "arm"
    if "auc" in table.columns:
        table = table.sort_values("auc", ascending=False, kind="stable", na_position="last")
    return table


def _cell(value: object, digits: int) -> str:
    """Format one cell: floats with fixed decimals, everything else as str."""
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-style pipe table with the index as the first column and numbers right-aligned."""
    header = [str(table.index.name or ""), *map(str, table.columns)]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    align = ["---", *("---:" if num else "---" for num in numeric)]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for label, row in zip(table.index, table.itertuples(index=False)):
        cells = [_cell(label, digits), *(_cell(v, digits) for v in row)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_text(table: pd.DataFrame, digits: int = 3) -> str:
    """A fixed-width plain-text table for printing in a terminal or a log."""
    with pd.option_context("display.width", 10_000, "display.max_columns", None):
        return table.to_string(float_format=lambda v: f"{v:.{digits}f}") + "\n"
