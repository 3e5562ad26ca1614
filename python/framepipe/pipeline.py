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

    _managed = False

    def __enter__(self) -> Pipeline:
        """Return the pipeline itself; leaving the block stops it (state NULL)."""
        self._managed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the pipeline (state NULL)."""
        self._managed = False
        # A clean exit finishes a stream that was ended but not run (the file gets written);
        # after an exception, stop at once and let that exception through.
        self.stop(finish=exc_type is None)

    def frames(self, sink: str, *, timeout: float | None = None) -> Iterator[Frame]:
        """Yield frames from appsink ``sink`` until EOS, starting the pipeline.

        Pulling runs as fast as the pipeline can: framepipe turns off clock sync on every
        appsink whose ``sync`` the description does not set, so a 20 s file is read in
        the time decoding takes, not in 20 s. Write ``appsink sync=true`` to pace frames
        in real time; live sources (``is-live=true``, cameras) set the pace anyway.

        Parameters
        ----------
        sink : str
            Name of an appsink in the pipeline (``appsink name=out``).
        timeout : float, optional
            Seconds to wait for each frame; TimeoutError (pipeline stopped) after that.

        Yields
        ------
        Frame
            Read-only zero-copy frames; ``frame.copy()`` gives a writable one.

        Raises
        ------
        KeyError
            No element is called ``sink`` (the message lists the names there are).
        PipelineError
            When an element posts an ERROR.

        Notes
        -----
        Outside a ``with`` block, leaving the loop early (``break``, an exception, Ctrl-C
        while the loop body runs) stops the pipeline (state NULL); inside one, leaving the
        block does.
        """
        pull = self.pull
        finished = False
        try:
            while (frame := pull(sink, timeout)) is not None:
                yield frame
            finished = True
        finally:
            if not finished and not self._managed:
                self.stop()

    def messages(self, timeout: float | None = 0) -> Iterator[Message]:
        """Yield unread bus messages, waiting up to ``timeout`` seconds for each one (0: only those already there; None: forever)."""
        while (msg := self.pop_message(timeout)) is not None:
            yield msg
