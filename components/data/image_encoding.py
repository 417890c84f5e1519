"""Image rows (a manifest table with a path column) turned into model inputs: decoded by
torchvision with the scenario's transform, labels mapped to class indices. The fitted state
is plain JSON, so a served model decodes raw images exactly as training did."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from components.data.classes import class_indices
from components.data.image_files import decode_images
from components.data.image_transform import ImageTransform
from components.errors import StepstoneError


@dataclass(frozen=True)
class ImageEncoder:
    """Decodes the images a table's `path_column` names; `classes` are the declared labels
    (class index = position), `shape` the decoded [c, h, w] every image must have."""

    spec: ImageTransform
    classes: list
    shape: tuple[int, int, int]
    path_column: str = "path"
    kind: str = field(default="image", init=False)

    @classmethod
    def fit(
        cls, rows: pd.DataFrame, spec: ImageTransform, classes: list, path_column: str
    ) -> ImageEncoder:
        """The encoder for training rows: the shape their first image decodes to."""
        first = decode_images(rows[path_column].head(1).tolist(), spec)
        return cls(spec, list(classes), tuple(int(d) for d in first.shape[1:]), path_column)

    @property
    def columns(self) -> list[str]:
        return [self.path_column]

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        """Float images [n, c, h, w] for the rows' files; a size that differs from training's
        is an error naming the fix."""
        if self.path_column not in rows.columns:
            raise StepstoneError(
                f"input rows lack the image path column {self.path_column!r}; send one row "
                f"per image with its file path in {self.path_column!r}."
            )
        x = decode_images(rows[self.path_column].tolist(), self.spec)
        if tuple(x.shape[1:]) != self.shape:
            raise StepstoneError(
                f"images decode to {tuple(x.shape[1:])} but the model was trained on "
                f"{self.shape} (channels, height, width); set data.transform.size / channels "
                "so every image is brought to one shape."
            )
        return x

    def labels(self, rows: pd.DataFrame, column: str) -> np.ndarray:
        return class_indices(rows, column, self.classes)

    def to_dict(self) -> dict:
        return {
            "transform": self.spec.model_dump(mode="json"),
            "classes": self.classes,
            "shape": list(self.shape),
            "path_column": self.path_column,
        }

    @classmethod
    def from_dict(cls, state: dict) -> ImageEncoder:
        return cls(
            ImageTransform(**state["transform"]),
            state["classes"],
            tuple(state["shape"]),
            state["path_column"],
        )
