"""The image branch of the flow (modality: image): load rotated domains, check them,
pretrain the CNN on the source, select and order the pool, adapt gradually, evaluate
accuracy on held-out target images, register. Tasks pass file paths, never arrays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from prefect import task

from components.adaptation.gradual import gradual_self_train, progressive_self_train
from components.data.images import (
    DIGITS_SPEC,
    GradualImages,
    RotationSpec,
    rotated_digits,
    rotating_mnist,
)
from components.errors import StepstoneError
from components.models import cnn
from components.models.training import (
    Labelled,
    embed,
    fit,
    predict_proba,
    resolve_device,
    seed_everything,
)
from components.selection import SideInfo, select
from components.selection import report as selection_report
from pipelines.config import PipelineConfig
from pipelines.packaging import requirements
from pipelines.settings import REPO_ROOT
from pipelines.stages.register import publish
from pipelines.stages.transit import as_step_history
from pipelines.tracking import log_history, stage_run

SCORER = Path(__file__).resolve().parent.parent / "image_scorer.py"


def read_images(workdir: str) -> GradualImages:
    with np.load(Path(workdir) / "images.npz") as blob:
        return GradualImages(**{k: blob[k] for k in blob.files})


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict_proba(model, x).argmax(1) == y).mean())


@task(name="load_data")
def load_images(config: PipelineConfig, workdir: str) -> dict[str, str]:
    """Build the rotated domains, write them to `workdir`; return data tags (digest, source)."""
    spec = config.images
    if spec.dataset == "digits":
        data = rotated_digits(spec.rotation or DIGITS_SPEC, seed=config.seed)
    else:
        data = rotating_mnist(spec=spec.rotation or RotationSpec(), seed=config.seed)
    path = Path(workdir) / "images.npz"
    np.savez(path, **vars(data))
    digest = hashlib.md5(b"".join(np.ascontiguousarray(v).tobytes() for v in vars(data).values()))
    return {"data_md5": digest.hexdigest(), "dvc_md5": "untracked", "data_path": spec.dataset}


@task(name="validate")
def validate_images(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Shapes agree, pixels lie in [0, 1], every domain has rows, the source has 2+ classes."""
    data = read_images(workdir)
    with stage_run(parent_run_id, "validate"):
        domains = {
            "source": data.source_x,
            "intermediate": data.pool_x,
            "target": data.target_x,
            "target_test": data.test_x,
        }
        problems = [f"{name} has no images" for name, x in domains.items() if len(x) == 0]
        shapes = {name: x.shape[1:] for name, x in domains.items()}
        if len(set(shapes.values())) > 1:
            problems.append(f"image shapes differ across domains: {shapes}")
        if any(len(x) and (x.min() < 0 or x.max() > 1) for x in domains.values()):
            problems.append("pixel values must lie in [0, 1]")
        if len(np.unique(data.source_y)) < 2:
            problems.append("the source needs at least two classes")
        if len(data.pool_x) < config.selection.chunks:
            problems.append(
                f"{len(data.pool_x)} pool images, fewer than selection.chunks={config.selection.chunks}"
            )
        mlflow.log_metrics({f"rows_{name}": len(x) for name, x in domains.items()})
        mlflow.set_tag("validation_success", str(not problems).lower())
        if problems:
            raise StepstoneError(
                "data validation failed:\n" + "\n".join(f"  {p}" for p in problems)
            )
    return {"success": True}


def log_classifier(path: Path, example: np.ndarray) -> mlflow.models.model.ModelInfo:
    """Log a CNN checkpoint as a self-contained pyfunc that takes an image array."""
    model = cnn.load(path)
    p = predict_proba(model, example)
    output = {"label": p.argmax(1).astype(np.int64), "probability": p.max(1)}
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(SCORER),
        artifacts={"checkpoint": str(path)},
        signature=infer_signature(example, output),
        input_example=example,
        code_paths=[str(REPO_ROOT / "components")],
        pip_requirements=requirements(),
    )


@task(name="pretrain_source")
def pretrain_cnn(config: PipelineConfig, workdir: str, parent_run_id: str) -> dict:
    """Train the CNN on the labelled source images; log it as a pyfunc."""
    data = read_images(workdir)
    with stage_run(parent_run_id, "pretrain_source") as run:
        mlflow.log_params(
            {"model": config.images.model.model_dump_json(), **config.pretrain.model_dump()}
        )
        seed_everything(config.seed)
        model = cnn.SmallCNN(
            data.source_x.shape[1:], int(data.source_y.max()) + 1, config.images.model
        )
        history = fit(
            model,
            Labelled.of(data.source_x, data.source_y),
            config.pretrain,
            seed=config.seed,
            device=resolve_device(config.device),
        )
        log_history(history, "pretrain")
        mlflow.log_metric("source_val_accuracy", accuracy(model, data.val_x, data.val_y))
        path = cnn.save(Path(workdir) / "source.pt", model.cpu())
        info = log_classifier(path, data.source_x[:5])
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}


@task(name="select_intermediate")
def select_images(
    config: PipelineConfig, workdir: str, parent_run_id: str, source_checkpoint: str
) -> dict:
    """Order the (shuffled) pool in the source CNN's features; report against the hidden angles."""
    data, model = read_images(workdir), cnn.load(source_checkpoint)
    with stage_run(parent_run_id, "select_intermediate") as run:
        mlflow.log_params({f"selection_{k}": v for k, v in config.selection.model_dump().items()})
        features = [embed(model, x) for x in (data.source_x, data.pool_x, data.target_x)]
        ids = np.arange(len(data.pool_x))
        side = SideInfo(source_labels=data.source_y, positions=data.pool_angles)
        table = select(*features, ids, config.selection, seed=config.seed, side=side).table
        path = Path(workdir) / "selection.parquet"
        table.to_parquet(path, index=False)
        scored = selection_report.with_truth(table, pd.Series(data.pool_angles))
        mlflow.log_metric("order_spearman_with_truth", selection_report.order_spearman(scored))
        mlflow.log_table(
            selection_report.selected_by_truth(scored), "selection/selected_by_truth.json"
        )
        mlflow.log_figure(
            selection_report.score_histograms(scored), "selection/scores_by_truth.png"
        )
        selected = np.isin(ids, table.loc[table["selected"], "row_id"])
        mlflow.log_figure(
            selection_report.embedding_figure(
                *features[:2], selected, features[2], "Source-model features (before adaptation)"
            ),
            "selection/embedding_before.png",
        )
        return {"run_id": run.info.run_id, "selection": str(path)}


@task(name="adapt_target")
def adapt_images(
    config: PipelineConfig,
    workdir: str,
    parent_run_id: str,
    source_checkpoint: str,
    selection: str,
    selection_run_id: str,
) -> dict:
    """Gradual (or progressive) self-training through the selected chunks, then the target."""
    data, model = read_images(workdir), cnn.load(source_checkpoint)
    table = pd.read_parquet(selection)
    device = resolve_device(config.device)

    def on_step(step: int, m) -> dict[str, float]:  # diagnostic only: no choice depends on it
        return {"test_accuracy": accuracy(m, data.test_x, data.test_y)}

    with stage_run(parent_run_id, "adapt_target") as run:
        mlflow.log_params(
            {"transit_path": config.transit.path, **config.transit.gradual.model_dump()}
        )
        if config.transit.path == "gradual":
            chunks = [
                data.pool_x[table.loc[table["chunk"] == c, "row_id"].to_numpy()]
                for c in range(config.selection.chunks)
            ]
            model, history = gradual_self_train(
                model,
                [*chunks, data.target_x],
                config.transit.gradual,
                config.seed,
                on_step=on_step,
                device=device,
            )
        elif config.transit.path == "progressive":
            chosen = data.pool_x[table.loc[table["selected"], "row_id"].to_numpy()]
            model, history = progressive_self_train(
                model,
                data.source_x,
                chosen,
                data.target_x,
                config.selection.chunks,
                config.transit.gradual,
                config.seed,
                on_step=on_step,
                device=device,
            )
        else:
            raise StepstoneError(
                f"transit.path {config.transit.path!r} needs labelled target rows; image scenarios support 'gradual' or 'progressive'."
            )
        log_history(as_step_history(history), "transit")
        mlflow.log_dict(history, "transit/steps.json")
        client = mlflow.tracking.MlflowClient()
        client.log_dict(
            selection_run_id, history, f"selection/adapt_{config.transit.path}_steps.json"
        )
        features = [embed(model, x) for x in (data.source_x, data.pool_x, data.target_x)]
        selected = np.isin(np.arange(len(data.pool_x)), table.loc[table["selected"], "row_id"])
        client.log_figure(
            selection_run_id,
            selection_report.embedding_figure(
                *features[:2], selected, features[2], "Adapted-model features"
            ),
            "selection/embedding_after.png",
        )
        path = cnn.save(Path(workdir) / "adapted.pt", model.cpu())
        info = log_classifier(path, data.target_x[:5])
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}


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


def image_stages(config: PipelineConfig, client, parent_id: str, workdir: str) -> dict:
    """The image branch of the flow, stage by stage; returns the run summary."""
    for key, value in load_images(config, workdir).items():
        client.set_tag(parent_id, key, value)
    validation = validate_images(config, workdir, parent_id)
    source = pretrain_cnn(config, workdir, parent_id)
    selection = select_images(config, workdir, parent_id, source["checkpoint"])
    adapted = adapt_images(
        config,
        workdir,
        parent_id,
        source["checkpoint"],
        selection["selection"],
        selection["run_id"],
    )
    evaluation = evaluate_images(
        config, workdir, parent_id, source["checkpoint"], adapted["model_uri"]
    )
    tags = {
        k: v for k, v in client.get_run(parent_id).data.tags.items() if not k.startswith("mlflow.")
    }
    tags.update(
        parent_run_id=parent_id,
        source_run_id=source["run_id"],
        selection_run_id=selection["run_id"],
        adapt_run_id=adapted["run_id"],
        validation="passed",
    )
    registered = register_images(config, workdir, parent_id, source, adapted, evaluation, tags)
    print(
        f"\nstepstone {config.name}: accuracy on {evaluation['test_rows']} target test images\n{evaluation['table']}"
    )
    print(
        f"registered {registered['model_name']} v{registered['version']} aliases={registered['aliases']}: {registered['reason']}"
    )
    return {
        "parent_run_id": parent_id,
        "validation": validation,
        "registered_model": {
            "name": registered["model_name"],
            **{k: registered[k] for k in ("version", "aliases", "promoted", "reason")},
        },
        "model_uri": f"models:/{registered['model_name']}/{registered['version']}",
        "metrics": evaluation["metrics"],
        "table": evaluation["table"],
    }
