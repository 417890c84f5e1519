"""render_markdown and validation_summary over real validation and drift results."""

from __future__ import annotations

import json

import numpy as np

from components.validation import drift_report, render_markdown, validate_domain, validation_summary


def test_report_names_domains_failures_and_shifts(schema, clean):
    broken = clean.copy()
    broken.loc[0, "size"] = "XXL"
    shifted = clean.assign(age=clean["age"] + 50, y="no")
    validations = [
        validate_domain(clean, schema, "source", labelled=True),
        validate_domain(broken, schema, "intermediate", labelled=False),
        validate_domain(shifted, schema, "target", labelled=True, require_both_classes=True),
    ]
    drift = drift_report(clean, {"intermediate": broken, "target": shifted}, schema)

    markdown = render_markdown(validations, drift)
    for domain in ("source", "intermediate", "target"):
        assert domain in markdown
    assert "'size'" in markdown and "'XXL'" in markdown
    assert "### Failures in `target`" in markdown
    assert "| target | age | numeric |" in markdown  # the shifted column's table row
    assert "Top shifts: `target.age`" in markdown

    summary = validation_summary(validations, drift)
    json.dumps(summary)
    assert summary["success"] is False
    assert summary["domains"]["source"] == {"success": True, "rows": len(clean), "failures": []}
    assert summary["domains"]["intermediate"]["success"] is False
    assert "age" in summary["drifted_columns"]["target"]
    assert "age" not in summary["drifted_columns"]["intermediate"]


def test_report_without_shifts(schema, clean):
    validations = [validate_domain(clean, schema, "source", labelled=True)]
    drift = drift_report(clean, {"target": clean.copy()}, schema)
    markdown = render_markdown(validations, drift)
    assert "all domains pass" in markdown
    assert "No column is shifted" in markdown
    assert validation_summary(validations, drift)["drifted_columns"] == {"target": []}
    assert np.isfinite(drift["psi"]).all()
