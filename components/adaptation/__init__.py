"""Target adaptation methods."""

from components.adaptation.methods import ADAPTERS, AdaptSpec, adapt

__all__ = ["ADAPTERS", "AdaptSpec", "adapt"]
