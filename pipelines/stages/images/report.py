"""Image branch, last stages: target test accuracy of the source and adapted models, and
registration with the champion rule."""

from __future__ import annotations

import mlflow
from prefect import task

from components.models import cnn
from pipelines.config import PipelineConfig
from pipelines.stages.images.common import accuracy, read_images
from pipelines.stages.register import champion_output, decide, publish
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
        _, labels = champion_output(client, name, data.test_x)
        champion = (
            None if labels is None else float((labels["label"].to_numpy() == data.test_y).mean())
        )
        promote, reason = decide(
            challenger, metrics["source_model"]["accuracy"], champion, "accuracy", "source model"
        )
        decision = {"promoted": promote, "reason": reason}
        return publish(client, name, source, adapted["model_uri"], tags, decision, parent_run_id)
