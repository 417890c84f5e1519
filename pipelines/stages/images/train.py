"""Image branch, training stages: pretrain the CNN on the source, select and order the pool
in its features, adapt gradually (or progressively) through the chunks to the target."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from prefect import task

from components.adaptation.gradual import jittered_paths, progressive_self_train
from components.models import cnn
from components.models.loop import fit
from components.models.training import Labelled, embed, resolve_device, seed_everything
from components.selection import Selection, SideInfo, select
from pipelines.config import PipelineConfig
from pipelines.stages.images.common import accuracy, log_classifier, read_images
from pipelines.stages.select import log_after_adaptation, log_reports
from pipelines.stages.transit import as_step_history
from pipelines.tracking import log_history, stage_run


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
        selected = np.isin(ids, table.loc[table["selected"], "row_id"])
        log_reports(table, features, selected, pd.Series(data.pool_angles))
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
    """Gradual (or progressive) self-training through the selected chunks, then the target;
    with transit.draws > 1, along that many jittered cuts side by side (each step labelled by
    all the draws' mean), registering the average of the final models."""
    data, source = read_images(workdir), cnn.load(source_checkpoint)
    table = pd.read_parquet(selection)
    device = resolve_device(config.device)

    def on_step(step: int, m) -> dict[str, float]:  # diagnostic only: no choice depends on it
        return {"test_accuracy": accuracy(m, data.test_x, data.test_y)}

    with stage_run(parent_run_id, "adapt_target") as run:
        mlflow.log_params(
            {
                "transit_path": config.transit.path,
                "transit_draws": config.transit.draws,
                **config.transit.gradual.model_dump(),
            }
        )
        if config.transit.path == "gradual":
            paths = jittered_paths(
                source,
                Selection(table),
                config.selection,
                data.pool_x,
                data.target_x,
                config.transit.draws,
                config.transit.gradual,
                config.seed,
                on_step=on_step,
                device=device,
            )
            model, history = paths[0]
            if len(paths) > 1:
                for draw, (member, _) in enumerate(paths):  # diagnostic, like on_step
                    mlflow.log_metric(
                        "draw_test_accuracy", accuracy(member, data.test_x, data.test_y), step=draw
                    )
                model = cnn.CNNEnsemble([member for member, _ in paths])
        else:  # progressive (the config allows only these two for images)
            chosen = data.pool_x[table.loc[table["selected"], "row_id"].to_numpy()]
            model, history = progressive_self_train(
                source,
                data.source_x,
                chosen,
                data.target_x,
                config.selection.chunks,
                config.transit.gradual,
                config.seed,
                on_step=on_step,
                device=device,
            )
        log_history(as_step_history(history), "transit")
        mlflow.log_dict(history, "transit/steps.json")
        features = [embed(model, x) for x in (data.source_x, data.pool_x, data.target_x)]
        selected = np.isin(np.arange(len(data.pool_x)), table.loc[table["selected"], "row_id"])
        log_after_adaptation(selection_run_id, features, selected, history, config.transit.path)
        path = cnn.save(Path(workdir) / "adapted.pt", model.cpu())
        info = log_classifier(path, data.target_x[:5])
        return {"run_id": run.info.run_id, "checkpoint": str(path), "model_uri": info.model_uri}
