"""Lazy package exports (PEP 562): `from components.adaptation import adapt` loads the
submodule that defines `adapt` on first use, so importing a torch-free submodule of a package
(its settings, say) does not import torch through the package's other modules."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that finds `name` in `package.<where[name]>`."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{where[name]}"), name)

    return __getattr__
