"""Image branch, last stages: target test accuracy of the source and adapted models, and
registration with the champion rule."""

from __future__ import annotations

import mlflow
import numpy as np
from prefect import task

from components.models import cnn
from pipelines.config import PipelineConfig
from pipelines.stages.images.common import accuracy, read_images
from pipelines.stages.register import publish
from pipelines.tracking import stage_run


@task(name="evaluate")
def evaluate_images(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    adapted_uri: str,
) -> dict:
    """Target test accuracy of the source model and of the logged adapted pyfunc."""
    data = read_images(workdir)
    with stage_run(parent_run_id, "evaluate") as run:
        served = mlflow.pyfunc.load_model(adapted_uri).predict(data.test_x)["label"].to_numpy()
        metrics = {
            "source_model": {
                "accuracy": accuracy(cnn.load(source_checkpoint), data.test_x, data.test_y)
            },
            "transfer": {"accuracy": float((served == data.test_y).mean())},
        }
        mlflow.log_metrics({f"{arm}_accuracy": m["accuracy"] for arm, m in metrics.items()})
        table = "| arm | accuracy |\n| --- | ---: |\n" + "\n".join(
            f"| {a} | {m['accuracy']:.3f} |" for a, m in metrics.items()
        )
        mlflow.log_text(table, "evaluation/comparison.md")
        return {
            "run_id": run.info.run_id,
            "metrics": metrics,
            "table": table,
            "test_rows": len(data.test_y),
        }


def champion_accuracy(client, name: str, test_x: np.ndarray, test_y: np.ndarray) -> float | None:
    """The current champion's accuracy on this run's test images (None if no champion)."""
    try:
        client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        return None
    labels = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(test_x)["label"]
    return float((labels.to_numpy() == test_y).mean())


@task(name="register")
def register_images(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source: dict,
    adapted: dict,
    evaluation: dict,
    tags: dict[str, str],
) -> dict:
    """Register source and adapted models; `champion` moves only to a model that beats the
    current champion (or, first, the source model) on this run's test images."""
    data, client = read_images(workdir), mlflow.tracking.MlflowClient()
    name, metrics = config.registry.model_name, evaluation["metrics"]
    with stage_run(parent_run_id, "register"):
        challenger = metrics["transfer"]["accuracy"]
        champion = champion_accuracy(client, name, data.test_x, data.test_y)
        bar, against = (
            (metrics["source_model"]["accuracy"], "source model")
            if champion is None
            else (champion, "champion")
        )
        promote = challenger > bar
        reason = (
            f"challenger accuracy {challenger:.4f} {'>' if promote else '<='} {against} {bar:.4f}"
        )
        decision = {"promoted": promote, "reason": reason}
        return publish(client, name, source, adapted["model_uri"], tags, decision, parent_run_id)
