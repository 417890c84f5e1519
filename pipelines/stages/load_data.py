"""Stage 0: fetch the DVC-tracked data version, derive columns, cut domains and split the target."""

from __future__ import annotations

import pandas as pd
from prefect import task

from components.data.loading import add_derived, read_table, split_domains
from components.data.splits import split_target
from pipelines.config import PipelineConfig
from pipelines.data_version import DataVersion, ensure_data
from pipelines.stages.workspace import write_split


def build_splits(config: PipelineConfig) -> tuple[DataVersion, dict[str, pd.DataFrame]]:
    """The data version and the five splits: source, intermediate, target_{labelled,unlabelled,test}."""
    version = ensure_data(config.data_path())
    table = read_table(config.data_path(), config.data.separator)
    table = table.drop(columns=[c for c in config.data.drop if c in table.columns])
    domains = split_domains(add_derived(table, config.data.derive), config.data.domains)
    target = split_target(
        domains["target"],
        config.schema.label.column,
        config.target.labelled,
        config.target.unlabelled,
        seed=config.seed,
    )
    return version, {
        "source": domains["source"],
        "intermediate": domains["intermediate"],
        "target_labelled": target.labelled,
        "target_unlabelled": target.unlabelled,
        "target_test": target.test,
    }


@task(name="load_data")
def load_data(config: PipelineConfig, workdir: str) -> DataVersion:
    """Write the five splits to `workdir`; return the data version they came from."""
    version, splits = build_splits(config)
    for name, rows in splits.items():
        write_split(workdir, name, rows)
    return version
