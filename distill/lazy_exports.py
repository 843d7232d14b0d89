"""Names of a package imported on first use (PEP 562), so a torch-free submodule stays torch-free.

``distill.models`` and ``distill.data`` export names whose modules import torch; importing
one of their config or header modules must not import them all (``distill info`` reads a
model file in a fraction of the ~1.3 s torch takes to import). Each package keeps its
imports under ``if TYPE_CHECKING:`` too, so static tools (PyInstaller, import-linter,
IDEs) still see them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``: ``exports`` maps a name to its submodule.

    Use as ``__getattr__, __dir__ = lazy_exports(__name__, {"Name": "submodule", ...})``.
    A name is imported once; later look-ups find it in the package's namespace.
    """

    def get_attribute(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        vars(sys.modules[package])[name] = value  # once: later look-ups do not come here
        return value

    def names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return get_attribute, names
