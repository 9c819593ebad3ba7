"""Public names of a package that load on first use (PEP 562), so importing the package stays quick.

A package's ``__init__`` lists where each public name lives, imports them for type checkers only
(under ``TYPE_CHECKING``), and hands the table to `attach`::

    __getattr__, __dir__ = attach(__name__, {"Registry": "dubkit.backends.registry"})

``import dubkit`` then costs a few milliseconds, and a program (or a ``dubkit`` command) pays only for
the modules it uses.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["attach"]


def attach(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``, loading ``where[name]`` on first use.

    Args:
        package: The package's ``__name__``.
        where: Public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` for the package's namespace.
    """
    table = dict(where)

    def __getattr__(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip the hook
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
