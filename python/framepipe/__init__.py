"""framepipe: GStreamer pipelines and video files, native in Python.

Frames are zero-copy numpy views of real GStreamer buffers that keep their buffer mapped
and alive; pipelines release the GIL while they wait and answer Ctrl-C.
"""

from __future__ import annotations

# First: initialises GStreamer with the virtualenv off PATH (see its docstring).
from . import _gstinit  # noqa: F401

# isort: split
from . import _framepipe
from ._framepipe import (
    SECOND,
    Buffer,
    Element,
    Frame,
    Mapping,
    Memory,
    Message,
    PropertyInfo,
    Region,
    Tensor,
    gstreamer_version,
    read_metadata,
)
from ._imageio import install as _install_imageio_plugin
from ._log import flush_gst_log, set_gst_log_level
from .elements import Property, Sink, Source, Transform, _plugin_load, element
from .errors import FramepipeError, MediaError, NegotiationError, ParseError, PipelineError
from .io import ImageProperties, VideoFile, imiter, immeta, improps, imread, imwrite, open, video_codecs
from .pipeline import Pipeline

__version__: str = _framepipe.__version__

_install_imageio_plugin()

__all__ = [
    "SECOND",
    "Buffer",
    "Element",
    "Frame",
    "ImageProperties",
    "VideoFile",
    "FramepipeError",
    "Mapping",
    "MediaError",
    "Memory",
    "Message",
    "NegotiationError",
    "ParseError",
    "Pipeline",
    "PipelineError",
    "Property",
    "PropertyInfo",
    "Region",
    "Sink",
    "Source",
    "Tensor",
    "Transform",
    "_plugin_load",
    "__version__",
    "element",
    "flush_gst_log",
    "gstreamer_version",
    "immeta",
    "imiter",
    "improps",
    "imread",
    "imwrite",
    "open",
    "video_codecs",
    "read_metadata",
    "set_gst_log_level",
]
