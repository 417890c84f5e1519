"""Stage 0: fetch the DVC-tracked data version, read the user's rows (a table or an image
manifest), cut domains and split the target (`pipelines.data_checks.build_splits`)."""

from __future__ import annotations

from prefect import task

from pipelines.config import PipelineConfig
from pipelines.data_checks import build_splits
from pipelines.data_version import DataVersion
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import write_split


@task(name="load_data", **STAGE_RETRIES)
def load_data(config: PipelineConfig, workdir: str) -> DataVersion:
    """Write the five splits to `workdir`; return the data version they came from."""
    version, splits = build_splits(config)
    for name, rows in splits.items():
        write_split(workdir, name, rows)
    return version
