"""Log a tabular checkpoint as a self-contained MLflow pyfunc (see pipelines/scorer.py)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pydantic
import torch
from mlflow.models import infer_signature

from components.models import checkpoint
from pipelines.settings import REPO_ROOT

SCORER = Path(__file__).with_name("scorer.py")


def requirements() -> list[str]:
    """Pinned runtime needs of the pyfunc (MLflow adds itself)."""
    return [
        f"torch=={torch.__version__.split('+')[0]}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"pydantic=={pydantic.__version__}",
    ]


def log_scorer(
    checkpoint_path: Path, example_rows: pd.DataFrame, name: str = "model"
) -> mlflow.models.model.ModelInfo:
    """Log the checkpoint as a pyfunc on the active run, with signature and input example.

    The signature takes its column types from `example_rows`, i.e. from the raw table.
    """
    model, preprocessor = checkpoint.load(checkpoint_path)
    example = example_rows[preprocessor.columns].head(5).reset_index(drop=True)
    output = pd.DataFrame(
        {"score": checkpoint.score_rows(model, preprocessor, example).astype(np.float64)}
    )
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(SCORER),
        artifacts={"checkpoint": str(checkpoint_path)},
        signature=infer_signature(example, output),
        input_example=example,
        code_paths=[str(REPO_ROOT / "components")],
        pip_requirements=requirements(),
    )
