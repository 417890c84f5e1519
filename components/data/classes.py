"""Labels of a declared set of classes as class indices (index = position in the list)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.errors import StepstoneError


def label_text(value) -> str:
    """A label as text, with integral floats (2.0, as pandas reads a column with blanks) as '2'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def class_indices(rows: pd.DataFrame, column: str, classes: list) -> np.ndarray:
    """Class indices of the rows' labels; a label outside `classes` is an error."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    values = rows[column].map(label_text)
    bad = sorted(set(values) - set(lookup))
    if bad:
        raise StepstoneError(
            f"label column {column!r} holds {bad[:5]} outside the declared classes "
            f"{classes}; fix the data or data.label.classes."
        )
    return values.map(lookup).to_numpy(dtype=np.int64, copy=True)
