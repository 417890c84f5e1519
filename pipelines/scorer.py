"""The served model, logged as MLflow "models from code": this file is the model definition.

It takes raw table rows (or texts) and returns a `score` column, P(positive label). Preprocessing
travels inside the checkpoint, so `mlflow.pyfunc.load_model` and `mlflow models serve`
work on rows exactly as they appear in the CSV.

The rows are checked first (components.data.input_checks): an empty input, a missing column
or a non-numeric value in a numeric column is refused with a message naming the column (and
row); raised as MLflow's INVALID_PARAMETER_VALUE, `mlflow models serve` answers HTTP 400 with
it. Unknown categories are scored (as the unseen level) and counted in a warning.
"""

from __future__ import annotations

import logging

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import set_model
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel

from components.candidates import load_predictor
from components.data.input_checks import InputReport, check_rows
from components.data.preprocess import TabularPreprocessor
from components.data.texts import TfidfEncoder, TokenEncoder, texts_of
from components.errors import StepstoneError
from components.models import checkpoint

logger = logging.getLogger("stepstone.scorer")


class TabularScorer(PythonModel):
    """Scores raw rows with a saved model file (a network checkpoint, or a fitted tree,
    linear or blended candidate): `score` for a binary table model, or the predicted `label`
    and its `probability` for a k-class one (checkpoint.answer)."""

    def load_context(self, context) -> None:
        self.predictor = load_predictor(context.artifacts["model"])
        self.encoder = self.predictor.encoder

    def check(self, rows: pd.DataFrame) -> InputReport | None:
        """The input checks against this model's columns and category levels, or its text
        column (StepstoneError if the rows cannot be scored); None for images."""
        if isinstance(self.encoder, TfidfEncoder | TokenEncoder):
            if rows.empty:
                raise StepstoneError("no rows to score; send at least one text.")
            texts_of(rows, self.encoder.text_column)
            return None
        if not isinstance(self.encoder, TabularPreprocessor):
            return None
        return check_rows(rows, self.encoder.levels, list(self.encoder.means))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = pd.DataFrame(model_input)
        try:
            report = self.check(rows)
        except StepstoneError as error:
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        if report is not None and report.unknown:
            logger.warning("%d rows: %s", report.rows, report.summary())
        return checkpoint.answer(self.encoder, self.predictor.predict_proba(rows))


set_model(TabularScorer())
