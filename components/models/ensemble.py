"""Networks of one shape whose class probabilities are averaged (the registered model of
`transit.draws` > 1). The output is the logit of the mean probability, so `predict_proba`
returns that mean for binary ([n] logits) and k-class ([n, k] logits) members alike."""

from __future__ import annotations

import torch
from torch import nn

from components.errors import StepstoneError


class Ensemble(nn.Module):
    """Members' probabilities averaged; `features` are the members' features side by side."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise StepstoneError("an ensemble needs at least one member network.")
        self.members = nn.ModuleList(members)

    def features(self, *x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.features(*x) for m in self.members], 1)

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        logits = [m(*x).float() for m in self.members]
        if logits[0].ndim == 1:  # binary: mean of sigmoids, back to a logit
            p = torch.stack([z.sigmoid() for z in logits]).mean(0).clamp(1e-7, 1 - 1e-7)
            return torch.log(p) - torch.log1p(-p)
        probs = torch.stack([z.softmax(1) for z in logits]).mean(0)
        return probs.clamp_min(1e-12).log()
