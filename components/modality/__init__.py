"""One interface per kind of data: tables, images, texts (`components.modality.base.Modality`);
the pipeline's stages are written once against it."""

from components.lazy import exports

# Each name loads its submodule on first use (components.lazy).
__getattr__ = exports(
    __name__,
    {
        "DOMAINS": "specs",
        "DataSpec": "specs",
        "CheckPlan": "base",
        "Encoder": "base",
        "Modality": "base",
        "Image": "image",
        "ImageData": "specs",
        "ImageModel": "specs",
        "MLPModel": "specs",
        "TableData": "specs",
        "Tabular": "tabular",
        "Text": "text",
        "TextData": "specs",
        "TextModel": "specs",
    },
)
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
