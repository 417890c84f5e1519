"""Helpers the image-branch stages share: the domains on disk, accuracy, and logging a CNN
checkpoint as a pyfunc that takes an image array."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
from mlflow.models import infer_signature

from components.data.images import GradualImages
from components.models import cnn
from components.models.training import predict_proba
from pipelines.packaging import requirements
from pipelines.settings import REPO_ROOT

SCORER = Path(__file__).resolve().parents[2] / "image_scorer.py"


def read_images(workdir: str) -> GradualImages:
    with np.load(Path(workdir) / "images.npz") as blob:
        return GradualImages(**{k: blob[k] for k in blob.files})


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict_proba(model, x).argmax(1) == y).mean())


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
