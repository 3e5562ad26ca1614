"""framepipe's exceptions.

Every error framepipe raises derives from FramepipeError, except the builtins it uses where Python has one
(FileNotFoundError, TimeoutError, ValueError, TypeError, BufferError, KeyboardInterrupt).
"""

from __future__ import annotations

__all__ = ["FramepipeError", "MediaError", "NegotiationError", "ParseError", "PipelineError"]


class FramepipeError(Exception):
    """Base of all framepipe errors."""


class ParseError(FramepipeError, ValueError):
    """A bad pipeline description or an unknown element.

    Attributes
    ----------
    token : str or None
        The offending element or token, when GStreamer names one.
    """

    token: str | None = None


class PipelineError(FramepipeError):
    """An ERROR posted on a pipeline's bus.

    Attributes
    ----------
    element : str or None
        Name of the element that posted it.
    path : str or None
        Its full object path, e.g. ``/GstPipeline:pipeline0/GstFileSrc:filesrc0``.
    message : str
        GStreamer's message.
    debug : str or None
        GStreamer's debug details (for Python elements, the traceback).
    """

    element: str | None = None
    path: str | None = None
    message: str = ""
    debug: str | None = None


class NegotiationError(PipelineError):
    """Caps negotiation failed: the elements could not agree on a format."""


class MediaError(FramepipeError, ValueError):
    """Media that cannot be opened, demuxed, decoded or encoded."""
