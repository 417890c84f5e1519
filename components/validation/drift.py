"""How far each domain's feature distributions sit from a reference domain's.

The main statistic is the population stability index (PSI) over bins of the reference:
quantile bins for numeric columns, the levels for categorical ones. Rule of thumb:
PSI < 0.1 no real shift, 0.1-0.2 moderate, > 0.2 major (flagged as `shifted`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from components.data.schema import TableSchema

EPSILON = 1e-4  # floor on bin shares, so empty bins don't give log(0)
N_QUANTILE_BINS = 10
MODERATE_PSI = 0.1
MAJOR_PSI = 0.2

DRIFT_COLUMNS = [
    "domain", "column", "kind", "psi", "severity", "shifted",
    "ks", "reference_mean", "domain_mean",
    "tvd", "top_level", "reference_share", "domain_share", "detail",
]  # fmt: skip


def psi(reference_shares: np.ndarray, domain_shares: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    ref = np.clip(reference_shares, EPSILON, None)
    dom = np.clip(domain_shares, EPSILON, None)
    return float(np.sum((dom - ref) * np.log(dom / ref)))


def severity(value: float) -> str:
    """'none', 'moderate' or 'major' for a PSI value."""
    if value > MAJOR_PSI:
        return "major"
    return "moderate" if value > MODERATE_PSI else "none"


def numeric_shares(reference: pd.Series, domain: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Shares of each series in the reference's quantile bins (open-ended outer bins)."""
    quantiles = np.linspace(0, 1, N_QUANTILE_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(reference, quantiles))
    n_bins = len(edges) + 1
    # Bin i holds values in (edges[i-1], edges[i]]; values above the last edge go in the last bin.
    ref_bins = np.searchsorted(edges, reference.to_numpy(), side="left")
    dom_bins = np.searchsorted(edges, domain.to_numpy(), side="left")
    ref_shares = np.bincount(ref_bins, minlength=n_bins) / len(reference)
    dom_shares = np.bincount(dom_bins, minlength=n_bins) / len(domain)
    return ref_shares, dom_shares


def numeric_drift(reference: pd.Series, domain: pd.Series) -> dict[str, Any]:
    """PSI, KS statistic and means of one numeric column (nulls and non-numbers dropped)."""
    ref = pd.to_numeric(reference, errors="coerce").dropna().astype(float)
    dom = pd.to_numeric(domain, errors="coerce").dropna().astype(float)
    value = psi(*numeric_shares(ref, dom))
    ks = float(ks_2samp(ref.to_numpy(), dom.to_numpy()).statistic)
    ref_mean, dom_mean = float(ref.mean()), float(dom.mean())
    return {
        "kind": "numeric",
        "psi": value,
        "ks": ks,
        "reference_mean": ref_mean,
        "domain_mean": dom_mean,
        "detail": f"mean {ref_mean:.4g} -> {dom_mean:.4g}, KS {ks:.3f}",
    }


def categorical_drift(reference: pd.Series, domain: pd.Series, levels: list[str]) -> dict[str, Any]:
    """PSI, total variation distance and most-shifted level of one categorical column."""
    ref, dom = reference.dropna(), domain.dropna()
    # Schema levels first, then any unexpected value seen in either table.
    all_levels = list(dict.fromkeys([*levels, *ref.unique(), *dom.unique()]))
    ref_shares = ref.value_counts(normalize=True).reindex(all_levels, fill_value=0.0).to_numpy()
    dom_shares = dom.value_counts(normalize=True).reindex(all_levels, fill_value=0.0).to_numpy()
    gaps = np.abs(dom_shares - ref_shares)
    top = int(np.argmax(gaps))
    top_level = str(all_levels[top])
    return {
        "kind": "categorical",
        "psi": psi(ref_shares, dom_shares),
        "tvd": float(gaps.sum() / 2),
        "top_level": top_level,
        "reference_share": float(ref_shares[top]),
        "domain_share": float(dom_shares[top]),
        "detail": (
            f"TVD {gaps.sum() / 2:.3f}; most shifted '{top_level}' "
            f"{ref_shares[top]:.1%} -> {dom_shares[top]:.1%}"
        ),
    }


def _usable(reference: pd.DataFrame, domain: pd.DataFrame, column: str) -> bool:
    """True when both tables have the column with at least one non-null value."""
    return all(column in t.columns and t[column].notna().any() for t in (reference, domain))


def drift_report(
    reference: pd.DataFrame, others: dict[str, pd.DataFrame], schema: TableSchema
) -> pd.DataFrame:
    """One row per (domain, schema feature column) comparing `others[domain]` with `reference`.

    Columns missing or all-null in either table are skipped (validation reports those).
    Rows are grouped by domain in the order given, and sorted by PSI, largest first.
    """
    rows: list[dict[str, Any]] = []
    for name, table in others.items():
        for column, levels in schema.categorical.items():
            if _usable(reference, table, column):
                stats = categorical_drift(reference[column], table[column], levels)
                rows.append({"domain": name, "column": column, **stats})
        for column in schema.numeric:
            if _usable(reference, table, column):
                stats = numeric_drift(reference[column], table[column])
                rows.append({"domain": name, "column": column, **stats})

    report = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    report["psi"] = report["psi"].astype(float)
    report["severity"] = report["psi"].map(severity).astype(object)
    report["shifted"] = (report["psi"] > MAJOR_PSI).astype(bool)
    domain_order = report["domain"].map({name: i for i, name in enumerate(others)})
    order = np.lexsort((-report["psi"].to_numpy(), domain_order.to_numpy()))
    return report.iloc[order].reset_index(drop=True)
