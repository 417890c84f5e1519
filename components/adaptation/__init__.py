"""Target adaptation methods."""

from components.lazy import exports

# Each name loads its submodule on first use (components.lazy).
__getattr__ = exports(
    __name__,
    {
        "ADAPTERS": "methods",
        "adapt": "methods",
        "NEEDS": "spec",
        "AdaptData": "spec",
        "AdaptSpec": "spec",
    },
)
__all__ = ["ADAPTERS", "NEEDS", "AdaptData", "AdaptSpec", "adapt"]
