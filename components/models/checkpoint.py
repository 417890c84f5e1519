"""Save and load a tabular model together with its preprocessing, as one file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from components.data.preprocess import TabularPreprocessor
from components.models.tabular_mlp import TabularMLP
from components.models.training import predict_proba


def save(path: Path, model: TabularMLP, preprocessor: TabularPreprocessor) -> Path:
    """Write network shape, weights and preprocessing state (plain types and tensors only)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {
            "init_args": model.init_args(),
            "state_dict": state,
            "preprocessor": preprocessor.to_dict(),
        },
        path,
    )
    return path


def load(path: Path | str) -> tuple[TabularMLP, TabularPreprocessor]:
    """Rebuild the network and its preprocessor from `save`'s file (on CPU)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = TabularMLP.from_init_args(blob["init_args"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, TabularPreprocessor.from_dict(blob["preprocessor"])


def score_rows(
    model: TabularMLP, preprocessor: TabularPreprocessor, rows: pd.DataFrame
) -> np.ndarray:
    """P(positive) for raw table rows."""
    return predict_proba(model, preprocessor.transform(rows))
