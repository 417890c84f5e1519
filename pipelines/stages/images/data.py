"""Image branch, first stages: build the rotated domains on disk and check them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import numpy as np
from prefect import task

from components.data.images import DIGITS_SPEC, RotationSpec, rotated_digits, rotating_mnist
from components.errors import StepstoneError
from pipelines.config import PipelineConfig
from pipelines.stages.images.common import read_images
from pipelines.tracking import stage_run


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
