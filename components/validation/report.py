"""Human (markdown) and machine (dict) summaries of validation and drift results."""

from __future__ import annotations

from typing import Any

import pandas as pd

from components.validation.suites import DomainValidation

TOP_SHIFTS = 3  # how many of the largest shifts the summary line names


def _cell(text: object) -> str:
    """Text made safe for a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _validation_section(validations: list[DomainValidation]) -> list[str]:
    """Pass/fail table per domain, then each failing domain's messages as bullets."""
    lines = [
        "## Validation",
        "",
        "| Domain | Result | Rows | Failures |",
        "|---|---|---:|---:|",
    ]
    for v in validations:
        result = "pass" if v.success else "**FAIL**"
        lines.append(f"| {_cell(v.domain)} | {result} | {v.rows} | {len(v.failures)} |")
    for v in validations:
        if v.failures:
            lines += ["", f"### Failures in `{v.domain}`", ""]
            lines += [f"- {message}" for message in v.failures]
    return lines


def _drift_section(drift: pd.DataFrame) -> list[str]:
    """Table of shifted columns (PSI > 0.2) and a one-line list of the largest shifts."""
    lines = ["## Drift from the reference domain", ""]
    if drift.empty:
        return lines + ["No drift statistics were computed."]
    shifted = drift[drift["shifted"]]
    if shifted.empty:
        lines.append("No column is shifted (all PSI <= 0.2).")
    else:
        lines += [
            "| Domain | Column | Kind | PSI | Severity | Detail |",
            "|---|---|---|---:|---|---|",
        ]
        for row in shifted.itertuples(index=False):
            lines.append(
                f"| {_cell(row.domain)} | {_cell(row.column)} | {row.kind} | {row.psi:.3f} "
                f"| {row.severity} | {_cell(row.detail)} |"
            )
    top = drift.sort_values("psi", ascending=False, kind="stable").head(TOP_SHIFTS)
    named = ", ".join(f"`{r.domain}.{r.column}` (PSI {r.psi:.2f})" for r in top.itertuples())
    counts = drift.groupby("domain", sort=False)["shifted"].sum()
    per_domain = ", ".join(f"{domain}: {int(n)}" for domain, n in counts.items())
    lines += ["", f"Top shifts: {named}.", "", f"Shifted columns per domain: {per_domain}."]
    return lines


def render_markdown(validations: list[DomainValidation], drift: pd.DataFrame) -> str:
    """A readable markdown report: validation results per domain, then the drift summary."""
    overall = "all domains pass" if all(v.success for v in validations) else "validation FAILED"
    lines = ["# Data validation report", "", f"Overall: {overall}.", ""]
    lines += _validation_section(validations)
    lines += [""]
    lines += _drift_section(drift)
    return "\n".join(lines) + "\n"


def validation_summary(validations: list[DomainValidation], drift: pd.DataFrame) -> dict[str, Any]:
    """JSON-serialisable summary: overall success, per-domain results, shifted columns per domain."""
    drifted: dict[str, list[str]] = {}
    if not drift.empty:
        drifted = {str(domain): [] for domain in dict.fromkeys(drift["domain"])}
        for row in drift[drift["shifted"]].itertuples(index=False):
            drifted[str(row.domain)].append(str(row.column))
    return {
        "success": all(v.success for v in validations),
        "domains": {
            v.domain: {
                "success": bool(v.success),
                "rows": int(v.rows),
                "failures": list(v.failures),
            }
            for v in validations
        },
        "drifted_columns": drifted,
    }
