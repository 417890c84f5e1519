"""Scheduled retraining: when a new data version arrives, run the pipeline again.

The source stage is served from the Prefect cache when the source rows, their config and
the code are unchanged; selection, adaptation and evaluation always re-run, and the new
version becomes `champion` only if it beats the current champion on this run's target test
rows (otherwise it stays `challenger` and the reason is logged).
"""

from __future__ import annotations

from mlflow.tracking import MlflowClient
from prefect import flow, get_run_logger

from pipelines import tracking
from pipelines.config import PipelineConfig, load_config
from pipelines.data_checks import read_rows
from pipelines.data_version import DataVersion
from pipelines.flow import stepstone


def latest_data_md5(client: MlflowClient, config: PipelineConfig) -> str | None:
    """The data digest behind the newest registered version of the scenario's model."""
    name = config.registry.model_name
    versions = client.search_model_versions(
        f"name = '{name}'", order_by=["version_number DESC"], max_results=1
    )
    return versions[0].tags.get("data_md5") if versions else None


def is_new(version: DataVersion, previous_md5: str | None) -> bool:
    """True when no model was trained on this data version yet."""
    return previous_md5 != version.md5


@flow(name="stepstone-retrain", log_prints=True)
def retrain(
    config_path: str | None = None, overrides: dict | None = None, only_new_data: bool = False
) -> dict:
    """Retrain the scenario on the current DVC data version; with `only_new_data`, do nothing
    when the newest registered model was already trained on it (the nightly schedule)."""
    logger = get_run_logger()
    client = tracking.configure()
    config = load_config(config_path, overrides)
    version, _ = read_rows(config)
    previous = latest_data_md5(client, config)
    if only_new_data and not is_new(version, previous):
        reason = f"data {version.path} md5 {version.md5} already has a model; nothing to retrain"
        logger.info(reason)
        return {"retrained": False, "reason": reason, "data_md5": version.md5}
    summary = stepstone(config_path=config_path, overrides=overrides)
    model = summary["registered_model"]
    if model["promoted"]:
        logger.info(
            "promoted %s v%s to champion: %s", model["name"], model["version"], model["reason"]
        )
    else:
        logger.warning(
            "kept %s v%s as challenger, champion unchanged: %s",
            model["name"],
            model["version"],
            model["reason"],
        )
    return {
        **summary,
        "retrained": True,
        "reason": model["reason"],
        "new_data": is_new(version, previous),
        "source_cached": summary["source"]["cached"],
    }
