"""The image branch of the flow (modality: image): load rotated domains, check them,
pretrain the CNN on the source, select and order the pool, adapt gradually, evaluate
accuracy on held-out target images, register. Tasks pass file paths, never arrays."""

from __future__ import annotations

from pipelines.config import PipelineConfig
from pipelines.lineage import model_tags
from pipelines.stages.images.data import load_images, validate_images
from pipelines.stages.images.report import evaluate_images, register_images
from pipelines.stages.images.train import adapt_images, pretrain_cnn, select_images
from pipelines.summary import registered_summary


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
    tags = model_tags(client, parent_id, source["run_id"], selection["run_id"], adapted["run_id"])
    registered = register_images(config, workdir, parent_id, source, adapted, evaluation, tags)
    return {
        "parent_run_id": parent_id,
        "validation": validation,
        **registered_summary(
            config,
            evaluation,
            registered,
            f"accuracy on {evaluation['test_rows']} target test images",
        ),
    }
