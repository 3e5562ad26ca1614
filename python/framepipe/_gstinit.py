"""Imports the native module, which initialises GStreamer, with this virtualenv's bin directory off PATH.

The first GStreamer call scans the plugins in gst-plugin-scanner, a child process that
inherits PATH. Debian's gst-python plugin, scanned there, embeds the ``python3`` it finds
on PATH; a virtualenv of another Python build first on PATH makes it print "pygobject
initialization failed" and cache its plugin with no elements. The scanner gets the PATH
without the virtualenv; this process's PATH is restored at once.
"""

from __future__ import annotations

import os
import sys


def import_native() -> None:
    """Import ``framepipe._framepipe`` as described in the module docstring."""
    path = os.environ.get("PATH")
    if path is None or sys.prefix == sys.base_prefix:
        from . import _framepipe

        return
    venv_bin = os.path.join(sys.prefix, "bin")
    os.environ["PATH"] = os.pathsep.join(p for p in path.split(os.pathsep) if p != venv_bin)
    try:
        from . import _framepipe  # noqa: F401
    finally:
        os.environ["PATH"] = path


import_native()
