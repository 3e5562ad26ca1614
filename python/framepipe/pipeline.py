"""Pipeline: the Python conveniences (context manager, iterators) over the native class."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from . import _framepipe
from ._framepipe import Frame, Message

__all__ = ["Pipeline"]


class Pipeline(_framepipe.Pipeline):
    """A GStreamer pipeline built from a gst-launch-1.0 description.

    Parameters
    ----------
    description : str
        The pipeline, e.g. ``"videotestsrc num-buffers=30 ! appsink name=out"``.

    Raises
    ------
    ParseError
        For bad syntax or an unknown element (the message names it).

    Examples
    --------
    >>> with Pipeline("videotestsrc num-buffers=3 ! video/x-raw,format=RGB ! appsink name=out") as p:
    ...     shapes = [f.array.shape for f in p.frames("out")]
    >>> shapes
    [(240, 320, 3), (240, 320, 3), (240, 320, 3)]
    """

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def frames(self, sink: str, *, timeout: float | None = None) -> Iterator[Frame]:
        """Yield frames from appsink ``sink`` until EOS, starting the pipeline.

        Parameters
        ----------
        sink : str
            Name of an appsink in the pipeline.
        timeout : float, optional
            Seconds to wait for each frame; TimeoutError (pipeline stopped) after that.

        Raises
        ------
        PipelineError
            When an element posts an ERROR.
        """
        pull = self.pull
        while (frame := pull(sink, timeout)) is not None:
            yield frame

    def messages(self, timeout: float | None = 0) -> Iterator[Message]:
        """Yield unread bus messages, waiting up to ``timeout`` seconds for each one
        (0: only those already there; None: forever)."""
        while (msg := self.pop_message(timeout)) is not None:
            yield msg
