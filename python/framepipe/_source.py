"""Importing a Python file by its path, for ``pyfunc module=`` and element plugin files."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

__all__ = ["import_file"]


def import_file(name: str, path: str | os.PathLike[str]) -> ModuleType | None:
    """Import the file ``path`` as module ``name``, registered in ``sys.modules``.

    Returns None when no loader takes the file. Errors the module raises while it runs
    propagate; ``sys.modules`` then still holds the half-run module (callers remove it).
    """
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
