"""The source stage's Prefect cache key: source data digest + source config + code version.

The key is built from small, stable things (a digest of the source rows, the config
sections that shape the source model, a hash of the code that trains it, the MLflow store
that holds it), never from pickled DataFrames, so a scheduled retrain on unchanged source
data reuses the source model trained by an earlier run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect.cache_policies import CachePolicy

from pipelines.config import PipelineConfig
from pipelines.settings import REPO_ROOT, tracking_uri

# The code a source model depends on: its data preparation, network, training and packaging.
SOURCE_CODE = (
    "components/data",
    "components/modality",
    "components/models",
    "pipelines/stages/load_data.py",
    "pipelines/stages/workspace.py",
    "pipelines/stages/pretrain.py",
    "pipelines/packaging.py",
    "pipelines/scorer.py",
)


def frame_digest(rows: pd.DataFrame) -> str:
    """A content digest of a table: column names, dtypes and every value (row order counts)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([(c, str(t)) for c, t in rows.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def code_version(paths: tuple[str, ...] = SOURCE_CODE, root: Path = REPO_ROOT) -> str:
    """sha256 over the named Python files (folders: every .py below them), by relative path."""
    files: list[Path] = []
    for name in paths:
        path = root / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def source_digest(
    config: PipelineConfig, source: pd.DataFrame, inputs: pd.DataFrame | None = None
) -> str:
    """A content digest of the source rows, of the files they name (images) and of the other
    rows the encoder learns from (`inputs`, when it does)."""
    digest = hashlib.sha256(frame_digest(source).encode())
    if inputs is not None:
        digest.update(frame_digest(inputs).encode())
    for file in config.modality_impl().digest_files(source):
        digest.update(file.read_bytes() if file.is_file() else b"missing")
    return digest.hexdigest()


def source_config(config: PipelineConfig) -> dict:
    """The config sections that shape the source model (not selection, adaptation, ...)."""
    return {
        "seed": config.seed,
        "model": config.model.model_dump(mode="json"),
        "pretrain": config.pretrain.model_dump(mode="json"),
        "data": config.data.model_dump(mode="json", by_alias=True),
    }


def source_key(config: PipelineConfig, source_digest: str) -> str:
    """The cache key of a source model: what it learned from, how, with which code, and where
    it is stored (a cached run id is only useful in the MLflow store that has the run)."""
    parts = {
        "source_digest": source_digest,
        "config": source_config(config),
        "code": code_version(),
        "mlflow": tracking_uri(),
    }
    return "source-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class SourceCachePolicy(CachePolicy):
    """Prefect cache policy for `pretrain_source(config, ..., source_digest)`."""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str:
        return source_key(inputs["config"], inputs["source_digest"])
