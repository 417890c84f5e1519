"""The declared shape of an input table: label, categorical levels, numeric ranges.

The scenario YAML states it once; validation (GX suites), preprocessing and the
served model's signature all read it from here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NumericRange(BaseModel):
    """Inclusive bounds for a numeric column; either side may be open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None


class LabelSpec(BaseModel):
    """The label column and its two allowed values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    positive: str | int
    negative: str | int


class TableSchema(BaseModel):
    """Columns the pipeline uses, with their allowed values.

    `categorical` maps each categorical column to its allowed levels; `numeric` maps
    each numeric column to its allowed range. Columns not named here are ignored,
    except the label and any derived columns the scenario adds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: LabelSpec
    categorical: dict[str, list[str]] = Field(default_factory=dict)
    numeric: dict[str, NumericRange] = Field(default_factory=dict)
    nullable: list[str] = Field(default_factory=list)

    @property
    def feature_columns(self) -> list[str]:
        return [*self.categorical, *self.numeric]
