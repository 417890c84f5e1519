"""Target adaptation methods."""

from components.adaptation.methods import ADAPTERS, NEEDS, adapt
from components.adaptation.spec import AdaptData, AdaptSpec

__all__ = ["ADAPTERS", "NEEDS", "AdaptData", "AdaptSpec", "adapt"]
