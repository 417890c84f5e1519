"""Stage 1: Great Expectations suites per split and a cross-domain drift report."""

from __future__ import annotations

import mlflow
import pandas as pd
from prefect import task

from components.data.leakage import duplicate_rows
from components.errors import StepstoneError
from components.modality import CheckPlan
from components.validation import (
    DomainValidation,
    drift_report,
    render_markdown,
    validation_summary,
)
from pipelines.config import PipelineConfig
from pipelines.resume import STAGE_CACHE
from pipelines.retries import STAGE_RETRIES
from pipelines.settings import quiet_libraries
from pipelines.stages.workspace import has_labels, read_split
from pipelines.tracking import stage_run

quiet_libraries()  # GX, imported later by run_suite, quietens its own logger there

CHECKED = ("source", "intermediate", "target_labelled", "target_unlabelled", "target_test")


def check_plans(config: PipelineConfig, splits: dict[str, pd.DataFrame]) -> list[CheckPlan]:
    """What each split must satisfy: labels and several classes where training or testing
    needs them, row minimums, and the pool's truth column when selection.truth names one."""
    label, minimum = config.modality_impl().label_column, config.validation.min_rows
    truth = config.selection.truth
    plans = [
        CheckPlan("source", labelled=True, min_rows=minimum, several_classes=True),
        CheckPlan(
            "intermediate",
            labelled=has_labels(splits["intermediate"], label),
            min_rows=max(minimum, config.selection.chunks),
            required={truth: "selection.truth"} if truth else None,
        ),
        CheckPlan("target_test", labelled=True, several_classes=True),
    ]
    if config.target.labelled:
        plans.insert(
            2,
            CheckPlan(
                "target_labelled",
                labelled=True,
                min_rows=config.target.min_labelled,
                several_classes=True,
            ),
        )
    if config.target.unlabelled:
        plans.insert(-1, CheckPlan("target_unlabelled", labelled=False))
    return plans


def validate_splits(
    config: PipelineConfig, splits: dict[str, pd.DataFrame]
) -> tuple[list[DomainValidation], pd.DataFrame]:
    """One GX suite per split, and (tables) the drift of the intermediate pool and the
    target against the source (column statistics: none for images)."""
    modality = config.modality_impl()
    results = [modality.validate(splits[plan.name], plan) for plan in check_plans(config, splits)]
    if config.modality != "tabular":
        return results, pd.DataFrame()
    target = pd.concat([splits["target_labelled"], splits["target_unlabelled"]])
    drift = drift_report(
        splits["source"], {"intermediate": splits["intermediate"], "target": target}, config.schema
    )
    return results, drift


def test_duplicates(config: PipelineConfig, splits: dict[str, pd.DataFrame]) -> dict[str, int]:
    """How many target test rows have an exact copy (on the model's columns) in each training
    split: a leak to know about (`data.drop_test_duplicates: true` drops them)."""
    training = {k: v for k, v in splits.items() if k != "target_test" and len(v)}
    columns = config.modality_impl().feature_columns
    return duplicate_rows(training, splits["target_test"], columns)


def failure_message(results: list[DomainValidation]) -> str:
    lines = [f"  {r.domain}: {failure}" for r in results for failure in r.failures]
    return "data validation failed:\n" + "\n".join(lines)


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
