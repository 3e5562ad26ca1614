"""GStreamer's debug log through Python's :mod:`logging`."""

from __future__ import annotations

import logging

from . import _framepipe

__all__ = ["flush_gst_log", "set_gst_log_level"]

# GStreamer's levels that Python's logging has no name for.
_EXTRA_LEVELS = {"FIXME": 25, "LOG": 5, "TRACE": 2, "MEMDUMP": 1}


def _level_number(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, int | str):
        raise TypeError(f"level must be a logging level (int or name), not {type(level).__name__}")
    if isinstance(level, int):
        return level
    name = level.upper()
    if name in _EXTRA_LEVELS:
        return _EXTRA_LEVELS[name]
    number = logging.getLevelName(name)
    if not isinstance(number, int):
        known = ", ".join(["ERROR", "WARNING", "FIXME", "INFO", "DEBUG", "LOG", "TRACE", "MEMDUMP"])
        raise ValueError(f"unknown log level {level!r}; use a logging level number or one of {known}")
    return number


def set_gst_log_level(level: int | str | None, categories: str | None = None) -> None:
    """Send GStreamer's debug log to Python's :mod:`logging`, or stop sending it.

    Records go to ``logging.getLogger("framepipe.gst.<category>")`` (``framepipe.gst.qtdemux``,
    ``framepipe.gst.GST_PADS``, ...), so the usual handlers, filters and logger levels apply.
    GStreamer's levels map onto logging's: ERROR 40, WARNING 30, FIXME 25, INFO 20, DEBUG 10,
    LOG 5, TRACE 2, MEMDUMP 1; the record's ``pathname``, ``lineno`` and ``funcName`` are
    GStreamer's, and ``gst_category``/``gst_object`` are set on it. While this is on,
    GStreamer prints nothing to stderr itself. It can be switched at any time.

    Parameters
    ----------
    level : int, str or None
        The lowest level to forward, as a logging number or a name (``"WARNING"``,
        ``"DEBUG"``, or GStreamer's ``"FIXME"``, ``"LOG"``, ``"TRACE"``); it sets GStreamer's
        default threshold, so messages below it are not even formatted. None turns
        forwarding off and gives GStreamer its own stderr output back.
    categories : str, optional
        Per-category thresholds on top, in ``GST_DEBUG`` syntax with GStreamer's level
        numbers (``"qtdemux:5,GST_PADS:4"``; names may use ``*``).

    Raises
    ------
    ValueError
        An unknown level name.
    TypeError
        A level that is neither a number nor a name.

    Examples
    --------
    >>> import logging, framepipe as fp
    >>> fp.set_gst_log_level("WARNING")
    >>> fp.set_gst_log_level(None)
    """
    if level is None:
        _framepipe.set_gst_log_level(None, None)
        return
    number = _level_number(level)
    for name, value in _EXTRA_LEVELS.items():
        if logging.getLevelName(value) == f"Level {value}":
            logging.addLevelName(value, name)
    _framepipe.set_gst_log_level(number, categories)


def flush_gst_log(timeout: float = 5.0) -> bool:
    """Wait until every GStreamer record logged so far has reached Python's logging.

    Records are handed over by a background thread, so a handler may see them a moment
    after GStreamer logged them; call this before inspecting what was logged.

    Parameters
    ----------
    timeout : float
        Seconds to wait at most.

    Returns
    -------
    bool
        False if the records were not all delivered in time.
    """
    return bool(_framepipe.flush_gst_log(timeout))
