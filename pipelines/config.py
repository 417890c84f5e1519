"""The scenario configuration: one YAML file per use case, validated by pydantic.

Every knob has a default; unknown keys are errors that name the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.adaptation import ADAPTERS, NEEDS, AdaptSpec
from components.adaptation.gradual import GradualSpec
from components.adaptation.joint import JointSpec
from components.data.images import RotationSpec
from components.data.loading import DerivedColumn
from components.data.schema import TableSchema
from components.errors import StepstoneError
from components.models.cnn import CNNSpec
from components.models.tabular_mlp import MLPSpec
from components.models.training import TrainSpec
from components.selection import SelectionSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "loan_marketing.yaml"
DOMAINS = ("source", "intermediate", "target")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Strict):
    """Where the table is, how to read it, and how to cut it into domains."""

    path: Path
    separator: str = ","
    drop: list[str] = Field(default_factory=list)
    derive: list[DerivedColumn] = Field(default_factory=list)
    domains: dict[str, str]
    schema_: TableSchema = Field(alias="schema")

    @field_validator("domains")
    @classmethod
    def _three_domains(cls, domains: dict[str, str]) -> dict[str, str]:
        if set(domains) != set(DOMAINS):
            raise ValueError(
                f"data.domains must define exactly {list(DOMAINS)}, got {list(domains)}"
            )
        return domains


class TargetConfig(Strict):
    """How the target domain is split. Rows not labelled or unlabelled are the test set."""

    labelled: int = 100
    unlabelled: int = 0
    min_labelled: int = 20


class ValidationConfig(Strict):
    """Thresholds for the data checks (the labelled target uses target.min_labelled)."""

    min_rows: int = 50


class EvaluationConfig(Strict):
    bootstrap: int = 1000
    ci_level: float = 0.95


class RegistryConfig(Strict):
    model_name: str = "stepstone"


class TransitConfig(Strict):
    """How to cross from source to target over the selected pool: `direct` (the adaptation
    method on labelled target + selected pool rows), `gradual` (self-training along the
    selection's chunks, Kumar et al. 2020), `progressive` (gradual, re-scoring the remaining
    pool with a domain discriminator after every step, as IDOL), or `joint`. `draws` > 1
    runs the gradual path along that many cuts of the order with different `selection.jitter`
    noise, side by side: every step's pseudo-labels are the mean of all the draws' current
    models, and the registered model averages the final ones (image scenarios).
    `gradual.neighbours` k > 1 votes each pseudo-label over its k nearest rows of the step."""

    path: Literal["direct", "gradual", "progressive", "joint"] = "direct"
    draws: int = Field(1, ge=1)
    gradual: GradualSpec = GradualSpec()
    joint: JointSpec = JointSpec()


class ImageDataConfig(Strict):
    """A rotated-image scenario: sklearn's bundled 8x8 `digits` (no download) or
    `rotating_mnist` (MNIST under $STEPSTONE_DATA_ROOT); `rotation` overrides the domain
    sizes and angles (default: the dataset's own protocol)."""

    dataset: Literal["digits", "rotating_mnist"] = "digits"
    rotation: RotationSpec | None = None
    model: CNNSpec = CNNSpec()


class PipelineConfig(Strict):
    """A whole scenario: data, domains, model, stages and registry. `modality: image`
    replaces the table (`data`) by a rotated-image scenario (`images`)."""

    name: str
    seed: int = 0
    device: str = "auto"
    modality: Literal["tabular", "image"] = "tabular"
    data: DataConfig | None = None
    images: ImageDataConfig = ImageDataConfig()
    target: TargetConfig = TargetConfig()
    validation: ValidationConfig = ValidationConfig()
    model: MLPSpec = MLPSpec()
    pretrain: TrainSpec = TrainSpec(epochs=8)
    selection: SelectionSpec = SelectionSpec()
    adaptation: AdaptSpec = AdaptSpec(train=TrainSpec(epochs=20, lr=5e-4))
    transit: TransitConfig = TransitConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    registry: RegistryConfig = RegistryConfig()

    @model_validator(mode="after")
    def _data_for_tables(self) -> PipelineConfig:
        if self.modality == "tabular" and self.data is None:
            raise ValueError("a tabular scenario needs a `data` section (or set modality: image)")
        if self.modality == "image" and self.transit.path not in ("gradual", "progressive"):
            raise ValueError(
                f"transit.path {self.transit.path!r} needs labelled target rows; image "
                "scenarios support 'gradual' or 'progressive'"
            )
        return self

    @model_validator(mode="after")
    def _draws_need_jittered_gradual_images(self) -> PipelineConfig:
        """transit.draws > 1 re-cuts the chunks with selection.jitter: without jitter every
        draw is the same path, and only the image branch runs draws."""
        if self.transit.draws == 1:
            return self
        if self.modality != "image" or self.transit.path != "gradual":
            raise ValueError(
                "transit.draws > 1 is supported for image scenarios with transit.path: "
                "gradual; set transit.draws: 1"
            )
        if self.selection.jitter == 0:
            raise ValueError(
                "transit.draws > 1 needs selection.jitter > 0 (each draw cuts the order with "
                "different noise; with none, every draw is the same path): set "
                "selection.jitter (e.g. 0.27) or transit.draws: 1"
            )
        return self

    @model_validator(mode="after")
    def _adaptation_has_its_data(self) -> PipelineConfig:
        """Catch an unknown method, or one that needs unlabelled target rows when there are
        none, when the config is read (before any data is loaded or model trained)."""
        method = self.adaptation.method
        if method not in ADAPTERS:
            raise ValueError(f"adaptation.method {method!r} is unknown; valid: {sorted(ADAPTERS)}")
        if "unlabelled" in NEEDS[method] and self.target.unlabelled == 0:
            raise ValueError(
                f"adaptation.method {method!r} needs unlabelled target rows; set "
                "target.unlabelled > 0 (those rows lose their labels and leave the test set)"
            )
        return self

    @property
    def schema(self) -> TableSchema:
        return self.data.schema_

    def resolved(self) -> dict:
        """The full configuration with defaults filled in, as plain JSON types."""
        return self.model_dump(mode="json", by_alias=True)

    def config_hash(self) -> str:
        """Short digest of the resolved configuration (stable key order)."""
        text = json.dumps(self.resolved(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def data_path(self) -> Path:
        """data.path, resolved against the repository root when relative."""
        path = self.data.path
        return path if path.is_absolute() else REPO_ROOT / path


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key; remove it or fix its spelling")
        elif item["type"] == "missing":
            lines.append(f"  {where}: required key is missing")
        else:
            lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def read_scenario(path: Path) -> dict:
    """The YAML mapping at `path`. A top-level `base: OTHER.yaml` (relative to this file) is
    read first and this file's keys are merged over it, so a variant states only what differs."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StepstoneError(f"config file not found: {path}. Pass an existing YAML with --config.")
    except OSError as exc:
        raise StepstoneError(f"cannot read config {path}: {exc}.") from exc
    except yaml.YAMLError as exc:
        raise StepstoneError(f"config {path} is not valid YAML: {exc}. Fix the syntax.") from exc
    if not isinstance(raw, dict):
        raise StepstoneError(
            f"config {path} must be a YAML mapping of keys, got {type(raw).__name__}."
        )
    base = raw.pop("base", None)
    return merge(read_scenario(path.parent / base), raw) if base else raw


def merge(base: dict, changes: dict) -> dict:
    """`base` with `changes` laid over it, mappings merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = merge(out[key], value)
        out[key] = value
    return out


def load_config(
    path: str | Path | None = None,
    overrides: dict | None = None,
    schema: type[PipelineConfig] = PipelineConfig,
) -> PipelineConfig:
    """Read and validate a scenario YAML (default: the loan-marketing case) against `schema`
    (a PipelineConfig subclass for flows with extra sections, such as the sweep)."""
    path = Path(path) if path else DEFAULT_CONFIG
    raw = read_scenario(path)
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise StepstoneError(f"config {path} is invalid:\n{_describe(exc)}") from exc
