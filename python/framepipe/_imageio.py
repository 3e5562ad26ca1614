"""Registers framepipe's imageio plugin without importing imageio: the plugin is added to ``imageio.config.known_plugins`` now if imageio is loaded, else the moment it is."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

PLUGIN_NAME = "framepipe"


def _register(config: ModuleType) -> None:
    from imageio.config.plugins import PluginConfig

    config.known_plugins[PLUGIN_NAME] = PluginConfig(
        name=PLUGIN_NAME, class_name="FramepipePlugin", module_name="framepipe.imageio_plugin"
    )


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Registers the plugin the moment ``imageio.config`` finishes loading."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "imageio.config":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module: ModuleType) -> None:
            exec_module(module)
            _register(module)

        loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Make plugin="framepipe" available to imageio, now or whenever imageio is imported."""
    config = sys.modules.get("imageio.config")
    if config is not None:
        _register(config)
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
