"""Stage 1: Great Expectations suites per split and a cross-domain drift report."""

from __future__ import annotations

import mlflow
from prefect import task

from components.errors import StepstoneError
from components.validation import render_markdown, validation_summary
from pipelines.config import PipelineConfig
from pipelines.data_checks import CHECKED, failure_message, test_duplicates, validate_splits
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import read_split
from pipelines.tracking import stage_run


@task(name="validate", **STAGE_RETRIES, **STAGE_CACHE)
def validate(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Validate every split; log the JSON and markdown report; stop the flow on failure
    (then the images are decoded by the stages after it, each file checked as it is read)."""
    splits = {name: read_split(workdir, name) for name in CHECKED}
    with stage_run(parent_run_id, "validate"):
        results, drift = validate_splits(config, splits)
        summary = validation_summary(results, drift)
        mlflow.log_dict(summary, "validation/summary.json")
        mlflow.log_dict(
            {r.domain: r.to_dict(include_raw=True) for r in results}, "validation/gx_results.json"
        )
        mlflow.log_text(render_markdown(results, drift), "validation/report.md")
        if not drift.empty:
            mlflow.log_table(drift, "validation/drift.json")
        mlflow.log_metrics({f"rows_{r.domain}": r.rows for r in results})
        mlflow.set_tag("validation_success", str(summary["success"]).lower())
        if not summary["success"]:
            raise StepstoneError(failure_message(results))
        counts = {
            f"{key}_{name}": value
            for name, rows in splits.items()
            for key, value in config.modality_impl().counts(rows).items()
        }
        mlflow.log_metrics(counts)
        copies = test_duplicates(config, splits)
        mlflow.log_metrics({f"test_rows_copied_in_{name}": n for name, n in copies.items()})
    return {
        "success": True,
        "drifted_columns": summary["drifted_columns"],
        "test_rows_copied": copies,
        "counts": counts,
    }
