"""Stage 0: fetch the DVC-tracked data version, read the user's rows (a table or an image
manifest), cut domains and split the target."""

from __future__ import annotations

import pandas as pd
from prefect import task

from components.data.leakage import check_disjoint, drop_duplicates_of
from components.data.loading import split_domains
from components.data.splits import split_target
from pipelines.config import PipelineConfig
from pipelines.data_version import DataVersion, ensure_data
from pipelines.retries import STAGE_RETRIES
from pipelines.stages.workspace import write_split

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


@task(name="load_data", **STAGE_RETRIES)
def load_data(config: PipelineConfig, workdir: str) -> DataVersion:
    """Write the five splits to `workdir`; return the data version they came from."""
    version, splits = build_splits(config)
    for name, rows in splits.items():
        write_split(workdir, name, rows)
    return version
