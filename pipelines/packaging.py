"""Log a checkpoint as a self-contained MLflow pyfunc (see pipelines/scorer.py)."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import joblib
import lightgbm
import mlflow
import numpy as np
import pandas as pd
import pydantic
import sklearn
import torch
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema

from components.candidates import load_predictor
from components.data.preprocess import TabularPreprocessor
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
        f"scikit-learn=={sklearn.__version__}",
        f"lightgbm=={lightgbm.__version__}",
        f"joblib=={joblib.__version__}",
        *(f"{name}=={version(name)}" for name in ("transformers", "tokenizers")),
    ]


def log_scorer(
    model_file: Path, example_rows: pd.DataFrame, name: str = "model"
) -> mlflow.models.model.ModelInfo:
    """Log a model file (a checkpoint, or a fitted candidate saved with joblib: see
    components.candidates.load_predictor) as a pyfunc on the active run, with signature and
    input example.

    The signature takes its columns from `example_rows`, i.e. from the raw table (see
    `signature` for why a table model's columns are typed `any`).
    """
    predictor = load_predictor(model_file)
    encoder = predictor.encoder
    example = example_rows[encoder.columns].head(5).reset_index(drop=True)
    output = checkpoint.answer(encoder, predictor.predict_proba(example))
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(SCORER),
        artifacts={"model": str(model_file)},
        signature=signature(encoder, example, output),
        input_example=example,
        code_paths=[str(REPO_ROOT / "components")],
        conda_env=environment(),
    )


def environment() -> dict:
    """The model's environment, written out in full. Given `pip_requirements`, MLflow builds
    conda.yaml itself and pins `pip<=` the installed pip's version; a uv environment has no
    pip, so it warned "Failed to resolve installed pip version". Declaring the environment
    states the Python version and leaves pip unpinned on purpose."""
    python = ".".join(map(str, sys.version_info[:3]))
    return {
        "name": "stepstone-model",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements()}],
    }


def signature(encoder, example: pd.DataFrame, output: pd.DataFrame) -> ModelSignature:
    """The inferred signature; for a table model its input columns are typed `any` and
    optional, so that MLflow's schema enforcement (which runs before `predict`) lets every
    row through to the scorer's own checks: a missing column or a non-numeric value then gets
    the scorer's message (column, row, fix) and HTTP 400 rather than MLflow's enforcement
    dump, and a blank numeric cell is scored (as the training mean) rather than refused as
    "float64 to int64". The names of the columns stay in the signature."""
    if not isinstance(encoder, TabularPreprocessor):
        return infer_signature(example, output)
    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in example.columns])
    return ModelSignature(inputs=inputs, outputs=infer_signature(output).inputs)
