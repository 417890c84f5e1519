"""`stepstone score`: turn a CSV of customers into a ranked list with a registered model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from components.errors import StepstoneError


def read_rows(path: Path, separator: str | None = None) -> pd.DataFrame:
    """Read a (gzipped) CSV; sniff `,` vs `;` when no separator is given."""
    if not path.is_file():
        raise StepstoneError(f"input file not found: {path}. Pass an existing CSV with --input.")
    try:
        return pd.read_csv(path, sep=separator, engine="python" if separator is None else "c")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, EOFError) as exc:
        raise StepstoneError(
            f"cannot read {path} as CSV: {exc}. Check the file or pass --separator."
        ) from exc


def score_csv(
    model_uri: str, input_path: Path, output_path: Path, separator: str | None = None
) -> int:
    """Write the input rows with a `score` column and a `rank` (1 = most likely to respond)."""
    rows = read_rows(Path(input_path), separator)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except Exception as exc:  # MlflowException / OSError for unknown or unreachable models
        raise StepstoneError(f"cannot load model {model_uri}: {exc}") from exc
    scored = rows.assign(score=model.predict(rows)["score"].to_numpy())
    scored = scored.sort_values("score", ascending=False, kind="stable")
    scored.insert(0, "rank", range(1, len(scored) + 1))
    scored.to_csv(output_path, index=False)
    return len(scored)
