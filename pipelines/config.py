"""The scenario configuration: one YAML file per use case, validated by pydantic.

Every knob has a default; unknown keys are errors that name the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from components.adaptation.spec import NEEDS, PATHS, AdaptSpec, GradualSpec, JointSpec
from components.candidates.names import TABLES as TABLE_CANDIDATES
from components.candidates.names import TABLES_PREFERRED
from components.candidates.names import TEXTS as TEXT_CANDIDATES
from components.errors import StepstoneError
from components.modality.specs import (
    BackboneModel,
    ImageData,
    LeNetModel,
    MLPModel,
    SmallCNNModel,
    TableData,
    TextData,
    TfidfModel,
    TransformerModel,
)
from components.models.spec import TrainSpec
from components.selection.base import SelectionSpec

if TYPE_CHECKING:
    from components.modality.base import Modality

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "loan_marketing.yaml"
# The networks each modality can build (`model.kind`); the first is the default.
MODEL_KINDS = {
    "tabular": ("mlp",),
    "image": ("small_cnn", "lenet", "torchvision"),
    "text": ("tfidf_mlp", "transformer"),
}
# The candidates each modality offers the choice stage (`transfer` is the adapted network;
# text offers `network_target_only` with a transformer, the TF-IDF regressions otherwise).
CANDIDATES = {
    "tabular": ("transfer", *TABLE_CANDIDATES),
    "image": ("transfer", "network_target_only"),
    "text": ("transfer", "network_target_only", *TEXT_CANDIDATES),
}
# What the choice leans toward when the CV cannot tell candidates apart (ChoiceConfig.prefer).
PREFERRED = {"tabular": TABLES_PREFERRED, "image": (), "text": ()}
# Each modality's implementation, imported by `modality_impl` when a run needs it: a table's
# does not import torch, so `stepstone validate` starts fast.
MODALITIES = {"tabular": "Tabular", "image": "Image", "text": "Text"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetConfig(Strict):
    """How the target domain is split. Rows not labelled or unlabelled are the test set;
    `labelled: 0` is unsupervised adaptation (the test rows still need labels)."""

    labelled: int = Field(100, ge=0)
    unlabelled: int = Field(0, ge=0)
    min_labelled: int = Field(20, ge=1)


class ValidationConfig(Strict):
    """Thresholds for the data checks (the labelled target uses target.min_labelled)."""

    min_rows: int = Field(50, ge=1)


class EvaluationConfig(Strict):
    bootstrap: int = Field(1000, ge=1)
    ci_level: float = Field(0.95, gt=0.0, lt=1.0)


class ChoiceConfig(Strict):
    """How the registered model is chosen among the candidates: `cv` is repeated stratified
    k-fold on the labelled target rows (`folds` x `repeats` fits per candidate); with fewer
    than `min_labelled` labelled target rows, or `label_free`, the configured transfer
    recipe is registered without a labelled choice. `candidates` restricts the set (names as
    the CV table prints them; default: all of the modality's). `prefer` names the candidates
    the one-standard-error rule leans toward (default: the modality's); the best by CV
    replaces them only when it is ahead by more than `tolerance_se` paired standard errors
    (default 2: the best of ~6 noisy estimates is ahead by about 1 SE by luck alone; 0:
    always the best by CV mean). `race_se`: after the first repeat, a candidate trailing the
    best of its kind (with transfer, or without) by more than this many paired standard
    errors runs no further repeats, so the time goes to those still in contention (racing,
    Maron & Moore 1994); blends, their members and `prefer` run every repeat; null: every
    candidate runs every repeat. Racing needs `repeats` > 1; the default is one repeat
    (a second made the same choice on 10 of 10 loan seeds and doubled the stage's time)."""

    criterion: Literal["cv", "label_free"] = "cv"
    folds: int = Field(5, ge=2)
    repeats: int = Field(1, ge=1)
    min_labelled: int = Field(30, ge=2)
    candidates: list[str] | None = None
    prefer: list[str] | None = None
    tolerance_se: float = Field(2.0, ge=0.0)
    race_se: float | None = Field(2.0, ge=0.0)


class RegistryConfig(Strict):
    model_name: str = "stepstone"


class TransitConfig(Strict):
    """How to cross from source to target over the selected pool: `direct` (the adaptation
    method on labelled target + selected pool rows), `gradual` (self-training along the
    selection's chunks, Kumar et al. 2020), `progressive` (gradual, re-scoring the remaining
    pool with a domain discriminator after every step, as IDOL), or `joint`. `draws` > 1
    runs the gradual path along that many cuts of the order with different `selection.jitter`
    noise, side by side: every step's pseudo-labels are the mean of all the draws' current
    models, and the registered model averages the final ones.
    `gradual.neighbours` k > 1 votes each pseudo-label over its k nearest rows of the step."""

    path: Literal[tuple(PATHS)] = "direct"
    draws: int = Field(1, ge=1)
    gradual: GradualSpec = GradualSpec()
    joint: JointSpec = JointSpec()


class PipelineConfig(Strict):
    """A whole scenario: data, domains, model, stages and registry. `modality` (tabular,
    image or text) chooses the shape of `data` and the networks `model.kind` may name."""

    name: str
    seed: int = 0
    device: str = "auto"
    modality: Literal["tabular", "image", "text"] = "tabular"
    data: Annotated[TableData | ImageData | TextData, Field(discriminator="modality")]
    target: TargetConfig = TargetConfig()
    validation: ValidationConfig = ValidationConfig()
    model: Annotated[
        MLPModel | SmallCNNModel | LeNetModel | BackboneModel | TfidfModel | TransformerModel,
        Field(discriminator="kind"),
    ]
    pretrain: TrainSpec = TrainSpec(epochs=8)
    selection: SelectionSpec = SelectionSpec()
    adaptation: AdaptSpec = AdaptSpec(train=TrainSpec(epochs=20, lr=5e-4))
    transit: TransitConfig = TransitConfig()
    choice: ChoiceConfig = ChoiceConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    registry: RegistryConfig = RegistryConfig()

    @model_validator(mode="before")
    @classmethod
    def _modality_keys(cls, raw):
        """`data` and `model` take their discriminators from `modality` (and its default
        network) unless they state their own."""
        if not isinstance(raw, dict):
            return raw
        modality = raw.get("modality", "tabular")
        raw = dict(raw)
        if isinstance(raw.get("data"), dict):
            raw["data"] = {"modality": modality, **raw["data"]}
        model = raw.get("model", {})
        if isinstance(model, dict) and modality in MODEL_KINDS:
            raw["model"] = {"kind": MODEL_KINDS[modality][0], **model}
            if raw["model"]["kind"] not in MODEL_KINDS[modality]:
                raise ValueError(
                    f"model.kind {raw['model']['kind']!r} is not a {modality} network; "
                    f"valid: {list(MODEL_KINDS[modality])}"
                )
        stones = ((raw.get("data") or {}).get("domains") or {}).get("intermediate")
        selection = raw.get("selection") or {}
        if (
            isinstance(stones, list)
            and isinstance(selection, dict)
            and selection.get("method", "given") == "given"
        ):  # listed stepping stones are crossed in their order, one chunk each
            raw["selection"] = {"method": "given", "chunks": len(stones), **selection}
        return raw

    @model_validator(mode="after")
    def _given_order(self) -> PipelineConfig:
        """`selection.method: given` walks the listed stepping stones, one chunk each."""
        stones = self.data.domains["intermediate"]
        if self.selection.method != "given":
            return self
        if not isinstance(stones, list):
            raise ValueError(  # noqa: TRY004 (pydantic reports ValueError)
                "selection.method 'given' needs data.domains.intermediate as an ordered list of "
                "queries (the stepping stones); list them, or choose another selection.method"
            )
        if self.selection.chunks != len(stones):
            raise ValueError(
                f"selection.chunks is {self.selection.chunks} but data.domains.intermediate "
                f"lists {len(stones)} stepping stones; with selection.method 'given' each "
                "stone is one chunk: drop selection.chunks"
            )
        if self.selection.jitter:
            raise ValueError(
                "selection.jitter re-cuts the chunks, but the given stepping stones are the "
                "chunks: set selection.jitter: 0 or choose another selection.method"
            )
        return self

    @model_validator(mode="after")
    def _one_modality(self) -> PipelineConfig:
        if self.data.modality != self.modality:
            raise ValueError(
                f"data.modality {self.data.modality!r} differs from modality {self.modality!r}"
            )
        return self

    @model_validator(mode="after")
    def _draws_need_jitter(self) -> PipelineConfig:
        """transit.draws > 1 re-cuts the chunks with selection.jitter: without jitter every
        draw is the same path."""
        if self.transit.draws == 1:
            return self
        if self.transit.path != "gradual":
            raise ValueError("transit.draws > 1 needs transit.path: gradual; set transit.draws: 1")
        if self.selection.jitter == 0:
            raise ValueError(
                "transit.draws > 1 needs selection.jitter > 0 (each draw cuts the order with "
                "different noise; with none, every draw is the same path): set "
                "selection.jitter (e.g. 0.27) or transit.draws: 1"
            )
        return self

    @model_validator(mode="after")
    def _adaptation_has_its_data(self) -> PipelineConfig:
        """Catch an unknown method, or one that needs target rows the split does not give,
        when the config is read (before any data is loaded or model trained)."""
        method = self.adaptation.method
        if method not in NEEDS:
            raise ValueError(f"adaptation.method {method!r} is unknown; valid: {sorted(NEEDS)}")
        needs = NEEDS[method] if self.transit.path == "direct" else set()
        if "unlabelled" in needs and self.target.unlabelled == 0:
            raise ValueError(
                f"adaptation.method {method!r} needs unlabelled target rows; set "
                "target.unlabelled > 0 (those rows lose their labels and leave the test set)"
            )
        if "target" in needs and self.target.labelled == 0:
            unsupervised = sorted(m for m, n in NEEDS.items() if "target" not in n)
            raise ValueError(
                f"adaptation.method {method!r} needs labelled target rows; set "
                f"target.labelled > 0, or use one of {unsupervised} (or a gradual path)"
            )
        if self.transit.path != "direct" and self.target.labelled + self.target.unlabelled == 0:
            raise ValueError(
                f"transit.path {self.transit.path!r} ends on the target's own rows; set "
                "target.unlabelled > 0 (or target.labelled > 0)"
            )
        return self

    @model_validator(mode="after")
    def _known_candidates(self) -> PipelineConfig:
        known = CANDIDATES[self.modality]
        for key in ("candidates", "prefer"):
            wanted = getattr(self.choice, key)
            if wanted is None:
                continue
            unknown = [c for c in wanted if c not in known]
            if unknown or (key == "candidates" and not wanted):
                raise ValueError(
                    f"choice.{key} names {unknown or 'nothing'}; valid for "
                    f"{self.modality}: {list(known)}"
                )
        return self

    def preferred(self) -> tuple[str, ...]:
        """The candidates the choice leans toward (choice.prefer or the modality's)."""
        prefer = self.choice.prefer
        return tuple(prefer) if prefer is not None else PREFERRED[self.modality]

    def modality_impl(self) -> Modality:
        """The modality interface for this scenario's data and network."""
        import components.modality  # loads only the named implementation (components.lazy)

        implementation = getattr(components.modality, MODALITIES[self.modality])
        return implementation(self.data, self.model)

    @property
    def schema(self):
        """The table schema (tabular scenarios only)."""
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


TAGS = {*MODEL_KINDS, *(k for kinds in MODEL_KINDS.values() for k in kinds)}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [p for i, p in enumerate(item["loc"]) if not (i == 1 and p in TAGS)]
        where = ".".join(str(p) for p in loc) or "(top level)"
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
    """`base` with `changes` laid over it, mappings merged key by key; a mapping that names
    another `kind` (a different network, say) replaces the base's instead."""
    out = dict(base)
    for key, value in changes.items():
        old = out.get(key)
        if (
            isinstance(value, dict)
            and isinstance(old, dict)
            and value.get("kind", old.get("kind")) == old.get("kind")
        ):
            value = merge(old, value)
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
    return validated(raw, f"config {path}", schema)


def validated(raw: dict, where: str, schema: type[PipelineConfig] = PipelineConfig):
    """`raw` as a `schema` config; a StepstoneError naming `where` and every bad key if not."""
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise StepstoneError(f"{where} is invalid:\n{_describe(exc)}") from exc
