"""Resolving a ``pyfunc`` element's properties into the callable it runs.

Called by the native module when a ``pyfunc`` starts. Bad settings raise ValueError whose
message starts with the property's name, which becomes the state change's error.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ._source import import_file

__all__ = ["resolve"]


def _load(element: str, module: str) -> ModuleType:
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = Path(module).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"property 'module' of {element}: no such file {module!r}")
        name = f"framepipe_pyfunc_{path.stem}"
        mod = import_file(name, path)
        if mod is None:
            raise ValueError(f"property 'module' of {element}: cannot load {module!r} as Python")
        return mod
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
            raise ValueError(f"property 'module' of {element}: no module named {module!r}") from None
        raise


def resolve(
    element: str, module: str, function: str, class_name: str | None, kwargs: str | None
) -> tuple[Callable[..., Any], dict[str, Any] | None]:
    """Return the callable and the keyword arguments to call it with per frame.

    With ``class_name``, the class is instantiated with ``kwargs`` and its method
    ``function`` is returned (no per-call kwargs); otherwise the module's ``function`` is
    returned with ``kwargs`` as extra keyword arguments of each call.
    """
    try:
        args = json.loads(kwargs) if kwargs else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"property 'kwargs' of {element}: not JSON ({e}): {kwargs!r}") from None
    if not isinstance(args, dict):
        raise ValueError(
            f"property 'kwargs' of {element} must be a JSON object, not {type(args).__name__}: {kwargs!r}"
        )
    mod = _load(element, module)
    if class_name:
        cls = getattr(mod, class_name, None)
        if not isinstance(cls, type):
            raise ValueError(f"property 'class' of {element}: module {module!r} has no class {class_name!r}")
        obj = cls(**args)
        method = getattr(obj, function, None)
        if not callable(method):
            raise ValueError(
                f"property 'function' of {element}: class {class_name!r} has no method {function!r}"
            )
        return method, None
    func = getattr(mod, function, None)
    if not callable(func):
        raise ValueError(f"property 'function' of {element}: module {module!r} has no function {function!r}")
    return func, (args or None)
