"""The served image model, logged as MLflow "models from code": takes images [n, 1, h, w]
(floats in [0, 1]) and returns the predicted class and its probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from components.models import cnn
from components.models.training import predict_proba


class ImageClassifier(PythonModel):
    """Classifies image arrays with a saved SmallCNN checkpoint."""

    def load_context(self, context) -> None:
        torch.set_num_threads(1)
        self.model = cnn.load(context.artifacts["checkpoint"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        x = np.asarray(model_input, dtype=np.float32).reshape(-1, *self.model.image_shape)
        p = predict_proba(self.model, x)
        return pd.DataFrame({"label": p.argmax(1).astype(np.int64), "probability": p.max(1)})


set_model(ImageClassifier())
