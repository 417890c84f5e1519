"""Intermediate-domain sample selection for transitive transfer."""

from components.selection.base import Selection, SelectionSpec
from components.selection.selectors import SELECTORS, select

__all__ = ["SELECTORS", "Selection", "SelectionSpec", "select"]
