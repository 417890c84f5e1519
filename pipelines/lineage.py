"""Provenance of a model: which data, code, config, flow run and parent model made it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from components.errors import StepstoneError
from pipelines.settings import REPO_ROOT

LINEAGE_TAGS = (
    "git_commit",
    "data_md5",
    "dvc_md5",
    "data_path",
    "config_hash",
    "prefect_flow_run_id",
    "parent_run_id",
    "source_run_id",
    "source_model_uri",
    "source_model_version",
    "selection_run_id",
    "adapt_run_id",
    "validation",
)


def git_commit() -> str:
    """HEAD's commit, with `+dirty` when the working tree has uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def model_tags(
    client: MlflowClient,
    parent_id: str,
    source_run_id: str,
    selection_run_id: str,
    adapt_run_id: str,
    **extra: str,
) -> dict[str, str]:
    """The tags a registered model version carries: the parent run's own tags (data digests,
    git commit, config hash...) plus the run ids of the stages that made it."""
    tags = client.get_run(parent_id).data.tags
    return {
        **{k: v for k, v in tags.items() if not k.startswith("mlflow.")},
        "parent_run_id": parent_id,
        "source_run_id": source_run_id,
        "selection_run_id": selection_run_id,
        "adapt_run_id": adapt_run_id,
        "validation": "passed",
        **extra,
    }


MODEL_URI_HINT = (
    "Check the name, alias or version (models:/NAME@ALIAS or models:/NAME/VERSION; "
    "`stepstone lineage` takes the same URI) and that MLFLOW_TRACKING_URI points at the store "
    "that holds the model."
)


def resolve_version(client: MlflowClient, model_uri: str):
    """The registered ModelVersion behind `models:/NAME@ALIAS` or `models:/NAME/VERSION`."""
    if not model_uri.startswith("models:/"):
        raise StepstoneError(
            f"{model_uri!r} is not a registry URI; use models:/NAME@ALIAS or models:/NAME/VERSION."
        )
    ref = model_uri.removeprefix("models:/")
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        name, version = ref.rsplit("/", 1)
        return client.get_model_version(name, version)
    except Exception as exc:  # MlflowException for unknown names, aliases and versions
        raise StepstoneError(
            f"no registered model version at {model_uri}: {exc}. {MODEL_URI_HINT}"
        ) from exc


def lineage(model_uri: str) -> dict:
    """Everything recorded about how the model version at `model_uri` was made."""
    client = MlflowClient()
    version = resolve_version(client, model_uri)
    parent_id = version.tags.get("parent_run_id")
    parent = client.get_run(parent_id) if parent_id else None
    config = None
    if parent is not None:
        try:
            config = Path(client.download_artifacts(parent_id, "config/resolved.yaml")).read_text()
        except (MlflowException, OSError):  # a run without the artifact
            config = None
    return {
        "model": {
            "name": version.name,
            "version": version.version,
            "aliases": list(version.aliases),
            "source": version.source,
            "run_id": version.run_id,
            "created": version.creation_timestamp,
        },
        "lineage": {k: version.tags.get(k) for k in LINEAGE_TAGS},
        "parent_run": None
        if parent is None
        else {
            "run_id": parent_id,
            "status": parent.info.status,
            "experiment_id": parent.info.experiment_id,
            "metrics": {
                k: v
                for k, v in parent.data.metrics.items()
                if k.startswith(("transfer_", "target_only_"))
            },
        },
        "config": config,
    }
