"""The data half of a run, without Prefect or MLflow: read the user's rows, cut the five
splits, and run the Great Expectations checks and drift report on them. The `load_data` and
`validate` stages log and hand on what these return; `stepstone validate` prints it (and so
starts without importing the orchestration)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.data.leakage import check_disjoint, drop_duplicates_of, duplicate_rows
from components.data.loading import split_domains
from components.data.splits import split_target
from components.modality import CheckPlan
from components.validation import DomainValidation, drift_report, render_markdown
from pipelines.config import PipelineConfig, load_config, read_scenario
from pipelines.data_version import DataVersion, ensure_data
from pipelines.settings import quiet_libraries
from pipelines.stages.workspace import has_labels

quiet_libraries()  # GX, imported later by run_suite, quietens its own logger there

TARGET_PARTS = ("labelled", "unlabelled", "test")


def read_rows(config: PipelineConfig) -> tuple[DataVersion, pd.DataFrame]:
    """The user's rows (DVC-pulled when missing) and their data version; for images the
    version's md5 covers every image file the manifest names."""
    modality = config.modality_impl()
    version = ensure_data(config.data_path())
    rows = modality.read(config.data_path())
    return version.with_files(modality.digest_files(rows)), rows


def build_splits(config: PipelineConfig) -> tuple[DataVersion, dict[str, pd.DataFrame]]:
    """The data version and the five splits: source, intermediate, target_{labelled,unlabelled,test};
    splits that share a row (overlapping domain queries) stop the run before any training."""
    version, rows = read_rows(config)
    modality = config.modality_impl()
    domains = split_domains(rows, config.data.domains)
    target = split_target(
        domains["target"],
        modality.label_column,
        config.target.labelled,
        config.target.unlabelled,
        seed=config.seed,
    )
    pool = domains["intermediate"]
    if not config.data.pool_labels:
        pool = pool.drop(columns=[modality.label_column], errors="ignore")
    splits = {
        "source": domains["source"],
        "intermediate": pool,
        "target_labelled": target.labelled,
        "target_unlabelled": target.unlabelled,
        "target_test": target.test,
    }
    target_query = config.data.domains["target"]
    check_disjoint(
        splits, {**config.data.domains, **{f"target_{p}": target_query for p in TARGET_PARTS}}
    )
    if config.data.drop_test_duplicates:
        training = {k: v for k, v in splits.items() if k != "target_test"}
        splits["target_test"] = drop_duplicates_of(
            target.test, training, modality.feature_columns
        ).reset_index(drop=True)
    return version, splits


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
    results = modality.validate_all(splits, check_plans(config, splits))
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


def _schema(config_path: Path | None) -> type[PipelineConfig]:
    """The sweep's config class for a scenario with a `sweep:` section, else the plain one."""
    if config_path is None or "sweep" not in read_scenario(Path(config_path)):
        return PipelineConfig
    from pipelines.sweep_grid import SweepConfig

    return SweepConfig


def validate_config(config_path: Path | None) -> tuple[bool, str]:
    """Load the scenario, split its data and run the GX suites; return (passed, report)."""
    config = load_config(config_path, schema=_schema(config_path))
    version, splits = build_splits(config)
    results, drift = validate_splits(config, splits)
    report = f"data {version.path} md5 {version.md5} (DVC {version.dvc_md5})\n\n" + render_markdown(
        results, drift
    )
    ok = all(r.success for r in results)
    return ok, report if ok else report + "\n" + failure_message(results)
