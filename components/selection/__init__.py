"""Intermediate-domain sample selection for transitive transfer."""

from components.lazy import exports

# Each name loads its submodule on first use (components.lazy).
__getattr__ = exports(
    __name__,
    {
        "Selection": "base",
        "SelectionSpec": "base",
        "SideInfo": "base",
        "SELECTORS": "selectors",
        "domain_scores": "selectors",
        "select": "selectors",
    },
)
__all__ = ["SELECTORS", "Selection", "SelectionSpec", "SideInfo", "domain_scores", "select"]
