"""How image files become model input, as the scenario YAML writes it (torch-free)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator


class ImageTransform(BaseModel):
    """How files become model input: resize to (h, w), convert to 1 or 3 channels, scale to
    [0, 1], normalise with mean/std; `augment` is applied to training batches only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: tuple[int, int] | None = None
    channels: Literal[1, 3] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    augment: Literal["none", "flip", "crop"] = "none"

    @model_validator(mode="after")
    def _check(self) -> ImageTransform:
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f"size {list(self.size)} must be two positive integers [H, W].")
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std (one value per channel), or neither.")
        if self.mean is not None and self.std is not None:
            if len(self.mean) != len(self.std):
                raise ValueError(f"mean has {len(self.mean)} values, std {len(self.std)}.")
            if self.channels is not None and len(self.mean) != self.channels:
                raise ValueError(
                    f"mean/std have {len(self.mean)} values but channels is {self.channels}; "
                    "give one value per channel."
                )
            if min(self.std) <= 0:
                raise ValueError(f"std {list(self.std)} must be > 0 in every channel.")
        return self
