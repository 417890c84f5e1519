"""The served model, logged as MLflow "models from code": this file is the model definition.

It takes raw table rows and returns a `score` column, P(positive label). Preprocessing
travels inside the checkpoint, so `mlflow.pyfunc.load_model` and `mlflow models serve`
work on rows exactly as they appear in the CSV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from components.models import checkpoint


class TabularScorer(PythonModel):
    """Scores raw rows with a saved tabular checkpoint."""

    def load_context(self, context) -> None:
        torch.set_num_threads(1)
        self.model, self.preprocessor = checkpoint.load(context.artifacts["checkpoint"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scores = checkpoint.score_rows(self.model, self.preprocessor, pd.DataFrame(model_input))
        return pd.DataFrame({"score": scores.astype(np.float64)})


set_model(TabularScorer())
