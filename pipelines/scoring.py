"""`stepstone score`: turn a CSV of customers (or of texts, or a folder / manifest of images)
into a ranked list with a registered model."""

from __future__ import annotations

import csv
import gzip
import logging
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from components.data.image_encoding import ImageEncoder
from components.data.image_files import image_listing
from components.data.input_checks import InputReport
from components.errors import StepstoneError
from pipelines.lineage import MODEL_URI_HINT


def read_rows(path: Path, separator: str | None = None) -> pd.DataFrame:
    """Read a (gzipped) CSV or a Parquet table; sniff `,`, `;` or a tab when no separator is
    given (a one-column file of texts is read with `,`)."""
    if not path.is_file():
        raise StepstoneError(f"input file not found: {path}. Pass an existing CSV with --input.")
    empty = StepstoneError(
        f"{path} is empty (not even a header row); pass a CSV with a header and rows."
    )
    if path.stat().st_size == 0:
        raise empty
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=separator or _sniff(path))
    except pd.errors.EmptyDataError as exc:
        raise empty from exc
    except (OSError, ValueError, pd.errors.ParserError, EOFError, csv.Error) as exc:
        raise StepstoneError(
            f"cannot read {path} as CSV: {exc}. Check the file or pass --separator."
        ) from exc


def _sniff(path: Path) -> str:
    """The separator of a CSV's header line: `,`, `;` or a tab (`,` when none appears)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as file:
        header = file.readline()
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _scorer(model: mlflow.pyfunc.PyFuncModel):
    """The project's PythonModel inside a loaded pyfunc (None for another flavour)."""
    try:
        return model.unwrap_python_model()
    except MlflowException:
        return None


def check_input(
    model: mlflow.pyfunc.PyFuncModel, rows: pd.DataFrame, path: Path
) -> InputReport | None:
    """The served model's own input checks, run before MLflow's (see pipelines/scorer.py),
    with the file named in the message; None for a model logged without them."""
    scorer = _scorer(model)
    if not hasattr(scorer, "check"):
        return None
    try:
        return scorer.check(rows)
    except StepstoneError as error:
        raise StepstoneError(f"cannot score {path}: {error}") from None


def signature_columns(model: mlflow.pyfunc.PyFuncModel, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows' columns the model's input signature names (all of them for a model without
    named inputs): the others, such as a customer id the model never saw, stay in the output
    but are not sent, so MLflow has none to warn about ignoring."""
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return rows
    return rows[[name for name in schema.input_names() if name in rows.columns]]


def score_csv(
    model_uri: str, input_path: Path, output_path: Path, separator: str | None = None
) -> tuple[int, InputReport | None]:
    """Write the input rows with the model's answer and a `rank` (1 = highest `score`, or for
    a k-class model the most confident `label`); return the number of rows and the input report
    (unknown categories per column). An image model takes a manifest or a folder of images."""
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:  # MlflowException / OSError for unknown or unreachable models
        hint = f" {MODEL_URI_HINT}" if model_uri.startswith("models:/") else ""
        raise StepstoneError(f"cannot load model {model_uri}: {exc}.{hint}") from exc
    encoder = getattr(_scorer(model), "encoder", None)
    if isinstance(encoder, ImageEncoder):
        rows = image_listing(Path(input_path), encoder.path_column)
    else:
        rows = read_rows(Path(input_path), separator)
    report = check_input(model, rows, Path(input_path))
    # The caller reports unknown categories (with the file name); keep the scorer's own
    # warning, meant for a served model's log, out of the terminal.
    scorer_log = logging.getLogger("stepstone.scorer")
    was, scorer_log.disabled = scorer_log.disabled, True
    try:
        answer = model.predict(signature_columns(model, rows))
    finally:
        scorer_log.disabled = was
    scored = pd.concat([rows.reset_index(drop=True), answer.reset_index(drop=True)], axis=1)
    by = "score" if "score" in answer.columns else "probability"
    scored = scored.sort_values(by, ascending=False, kind="stable")
    scored.insert(0, "rank", range(1, len(scored) + 1))
    scored.to_csv(output_path, index=False)
    return len(scored), report
