"""Stage 1: Great Expectations suites per split and a cross-domain drift report."""

from __future__ import annotations

import mlflow
import pandas as pd
from prefect import task

from components.errors import StepstoneError
from components.validation import (
    DomainValidation,
    drift_report,
    render_markdown,
    validate_domain,
    validation_summary,
)
from pipelines.config import PipelineConfig
from pipelines.settings import quiet_libraries
from pipelines.stages.workspace import read_split
from pipelines.tracking import stage_run

quiet_libraries()  # after importing GX, which raises one of its loggers to INFO

CHECKED = ("source", "intermediate", "target_labelled", "target_test")


def validate_splits(
    config: PipelineConfig, splits: dict[str, pd.DataFrame]
) -> tuple[list[DomainValidation], pd.DataFrame]:
    """One GX suite per split (labels, both classes and row minimums where they matter) and
    the drift of the intermediate pool and the labelled target against the source."""
    schema, label, minimum = config.schema, config.schema.label.column, config.validation.min_rows
    results = [
        validate_domain(
            splits["source"],
            schema,
            "source",
            labelled=True,
            min_rows=minimum,
            require_both_classes=True,
        ),
        validate_domain(
            splits["intermediate"],
            schema,
            "intermediate",
            labelled=label in splits["intermediate"].columns,
            min_rows=max(minimum, config.selection.chunks),
            required={config.selection.truth: "selection.truth"}
            if config.selection.truth
            else None,
        ),
        validate_domain(
            splits["target_labelled"],
            schema,
            "target_labelled",
            labelled=True,
            min_rows=config.target.min_labelled,
            require_both_classes=True,
        ),
        validate_domain(
            splits["target_test"], schema, "target_test", labelled=True, require_both_classes=True
        ),
    ]
    drift = drift_report(
        splits["source"],
        {"intermediate": splits["intermediate"], "target": splits["target_labelled"]},
        schema,
    )
    return results, drift


def failure_message(results: list[DomainValidation]) -> str:
    lines = [f"  {r.domain}: {failure}" for r in results for failure in r.failures]
    return "data validation failed:\n" + "\n".join(lines)


@task(name="validate")
def validate(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Validate every split; log the JSON and markdown report; stop the flow on failure."""
    splits = {name: read_split(workdir, name) for name in CHECKED}
    with stage_run(parent_run_id, "validate"):
        results, drift = validate_splits(config, splits)
        summary = validation_summary(results, drift)
        mlflow.log_dict(summary, "validation/summary.json")
        mlflow.log_dict(
            {r.domain: r.to_dict(include_raw=True) for r in results}, "validation/gx_results.json"
        )
        mlflow.log_text(render_markdown(results, drift), "validation/report.md")
        mlflow.log_table(drift, "validation/drift.json")
        mlflow.log_metrics({f"rows_{r.domain}": r.rows for r in results})
        mlflow.set_tag("validation_success", str(summary["success"]).lower())
        if not summary["success"]:
            raise StepstoneError(failure_message(results))
    return {"success": True, "drifted_columns": summary["drifted_columns"]}
