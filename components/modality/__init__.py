"""One interface per kind of data: tables, images, texts (`components.modality.base.Modality`);
the pipeline's stages are written once against it."""

from components.modality.base import DOMAINS, CheckPlan, DataSpec, Encoder, Modality
from components.modality.image import Image, ImageData, ImageModel
from components.modality.tabular import MLPModel, TableData, Tabular
from components.modality.text import Text, TextData, TextModel

__all__ = [
    "DOMAINS",
    "CheckPlan",
    "DataSpec",
    "Encoder",
    "Image",
    "ImageData",
    "ImageModel",
    "MLPModel",
    "Modality",
    "TableData",
    "Tabular",
    "Text",
    "TextData",
    "TextModel",
]
