"""Intermediate-domain sample selection for transitive transfer."""

from components.selection.base import Selection, SelectionSpec, SideInfo
from components.selection.selectors import SELECTORS, domain_scores, select

__all__ = ["SELECTORS", "Selection", "SelectionSpec", "SideInfo", "domain_scores", "select"]
