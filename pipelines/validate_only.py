"""`stepstone validate`: the data checks of a scenario, without Prefect, MLflow or training."""

from __future__ import annotations

from pathlib import Path

from components.validation import render_markdown
from pipelines.config import PipelineConfig, load_config, read_scenario
from pipelines.stages.load_data import build_splits
from pipelines.stages.validate import failure_message, validate_splits


def _schema(config_path: Path | None) -> type[PipelineConfig]:
    """The sweep's config class for a scenario with a `sweep:` section, else the plain one."""
    if config_path is None or "sweep" not in read_scenario(Path(config_path)):
        return PipelineConfig
    from pipelines.sweep import SweepConfig  # imports Prefect: only for sweep scenarios

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
