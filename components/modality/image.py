"""Images: a manifest table (one row per image file: path, label, any columns the domain
queries use) or one folder per class per domain; decoded and transformed by torchvision;
a small CNN, LeNet or a torchvision backbone; accuracy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from torch import nn

from components.data.image_encoding import ImageEncoder
from components.data.image_files import folder_manifest, read_manifest
from components.data.loading import ROW_ID
from components.errors import StepstoneError
from components.modality.classes import Classified
from components.modality.specs import BackboneModel, ImageData, LeNetModel, SmallCNNModel
from components.models.backbones import TorchvisionNet
from components.models.cnn import CNNSpec, SmallCNN
from components.models.lenet import LeNet
from components.validation.manifest import Examples, image_files


class Image(Classified):
    kind = "image"

    def __init__(self, data: ImageData, model: SmallCNNModel | LeNetModel | BackboneModel):
        self.data, self.model = data, model

    @property
    def feature_columns(self) -> list[str]:
        return [self.data.path_column]

    def read(self, path: Path) -> pd.DataFrame:
        rows = (
            folder_manifest(path)
            if path.is_dir()
            else read_manifest(path, path_column=self.data.path_column)
        )
        if ROW_ID in rows.columns:
            raise StepstoneError(f"{path} already has a column named {ROW_ID!r}; rename it.")
        rows.insert(0, ROW_ID, range(len(rows)))
        return rows

    def digest_files(self, rows: pd.DataFrame) -> list[Path]:
        return [Path(p) for p in rows[self.data.path_column]]

    def examples(self) -> Examples:
        return image_files(self.data.path_column)

    def fit_encoder(self, source: pd.DataFrame, inputs: pd.DataFrame | None = None) -> ImageEncoder:
        return ImageEncoder.fit(
            source, self.data.transform, self.data.label.classes, self.data.path_column
        )

    def build_model(self, encoder: ImageEncoder, seed: int) -> nn.Module:
        n, spec, shape = len(encoder.classes), self.model, encoder.shape
        if isinstance(spec, SmallCNNModel):
            return SmallCNN(shape, n, CNNSpec(**spec.model_dump(exclude={"kind"})))
        if isinstance(spec, LeNetModel):
            if shape != (1, 28, 28):
                raise StepstoneError(
                    f"model.kind lenet takes one-channel 28x28 images, the data decodes to "
                    f"{shape}; set data.transform: {{size: [28, 28], channels: 1}}."
                )
            return LeNet(n, spec.bottleneck, spec.dropout)
        if shape[0] != 3:
            raise StepstoneError(
                f"model.kind torchvision ({spec.arch}) takes RGB images, the data decodes to "
                f"{shape[0]} channel(s); set data.transform.channels: 3."
            )
        return TorchvisionNet(spec.arch, n, str(spec.weights) if spec.weights else None)
