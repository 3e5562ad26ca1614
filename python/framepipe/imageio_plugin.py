"""imageio v3 plugin: after ``import framepipe``, ``imageio.v3.imread(path, plugin="framepipe")`` and the other v3 calls (imiter, imwrite, improps, immeta, imopen) read and write videos through framepipe, with the keyword names of imageio's pyav plugin where they overlap.

imageio loads this module only when the plugin is used; ``framepipe._imageio`` registers
it without importing imageio.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from types import EllipsisType
from typing import Any

import numpy as np
import numpy.typing as npt
from imageio.core.request import URI_BYTES, URI_FILE, InitializationError, IOMode, Request
from imageio.core.v3_plugin_api import ImageProperties, PluginV3

from . import _framepipe
from .errors import MediaError
from .io import _DECODER_FORMATS, VideoFile

# GStreamer's profile names where FFmpeg's (and so PyAV's) differ.
_FFMPEG_PROFILES = {"High 4:4:4": "High 4:4:4 Predictive"}


def _profile(meta: dict[str, Any]) -> str | None:
    """FFmpeg's name of the stream's profile, from GStreamer's codec description ("H.264 (High 4:4:4 Profile)" -> "High 4:4:4 Predictive"), or None when it names none."""
    codec = meta.get("video-codec") or meta.get("stream_tags", {}).get("video-codec")
    if not isinstance(codec, str) or (match := re.search(r"\((.+?) Profile\)", codec)) is None:
        return None
    return _FFMPEG_PROFILES.get(match.group(1), match.group(1))


# Containers the writer makes (see VideoWriter.create).
_WRITABLE = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".gif", ".png", ".apng"}


# Input pixel formats the writer takes as they are (VideoWriter's in_pixel_format): the core's
# OutputFormat, the same set the decoders write.
_WRITER_INPUTS = _DECODER_FORMATS


def _writer_input(frame: npt.ArrayLike, pixel_format: str) -> tuple[npt.NDArray[Any], str]:
    """Return a frame the writer takes, and its pixel format.

    Frames in other FFmpeg formats (``bayer_rggb8``, ...) are converted to rgb24 by swscale, as PyAV
    converts them when it encodes.
    """
    if pixel_format in _WRITER_INPUTS:
        return np.asarray(frame), pixel_format
    array = np.ascontiguousarray(frame)
    if array.ndim < 2:
        raise ValueError(f"a {pixel_format} frame must be at least 2-D, not of shape {array.shape}")
    layout = _framepipe.pixel_format_layout(pixel_format, 4, 2)
    planar = layout is not None and len(layout[0]) == 3 and layout[0][1:] == [2, 4]
    height, width = array.shape[1:3] if planar else array.shape[:2]
    rgb = _framepipe.convert_pixels(array.tobytes(), pixel_format, width, height, "rgb24")
    return np.frombuffer(rgb, np.uint8).reshape(height, width, 3), "rgb24"


def _not_strided(name: str) -> OSError:
    return OSError(
        f"{name} can't be expressed as a strided array. Use `format=` to select a format to convert into."
    )


class FramepipePlugin(PluginV3):
    """Videos through framepipe (GStreamer), frame-exact on VFR and B-frame files."""

    def __init__(self, request: Request, *, container: str | None = None, **kwargs: Any) -> None:
        super().__init__(request)
        # imageio tries the next plugin (or, for an explicit plugin="framepipe", raises
        # OSError) when a plugin raises InitializationError: a resource framepipe cannot
        # open must end up there, not as framepipe's own exception.
        if request.mode.io_mode == IOMode.write:
            extension = request.extension or request.format_hint
            if extension is None:
                raise InitializationError("framepipe cannot tell the container to write: give extension=")
            if extension.lower() not in _WRITABLE:
                raise InitializationError(f"framepipe cannot write {extension} files")
        try:
            # Bytes and file objects go to framepipe as they are (held in memory or written
            # through AVIO callbacks), never through a temporary file.
            if request.mode.io_mode == IOMode.read:
                source: Any = request.raw_uri if request._uri_type == URI_BYTES else None
                if request._uri_type == URI_FILE:
                    source = request.get_file()
                if source is None:
                    source = request.get_local_filename()
                self._file = VideoFile(source, "r", **kwargs)
            else:
                extension = request.extension or request.format_hint
                if request._uri_type == URI_BYTES:
                    self._file = VideoFile("<bytes>", "w", extension=extension, **kwargs)
                elif request._uri_type == URI_FILE:
                    self._file = VideoFile(request.get_file(), "w", extension=extension, **kwargs)
                else:
                    self._file = VideoFile(request.get_local_filename(), "w", **kwargs)
        except (MediaError, ValueError, TypeError) as exc:
            what = "these <bytes>" if request._uri_type == URI_BYTES else repr(request.raw_uri)
            raise InitializationError(f"framepipe cannot open {what}: {exc}") from exc

    def read(
        self,
        *,
        index: int | EllipsisType = ...,
        format: str | None = "rgb24",
        filter_sequence: Sequence[Any] | None = None,
        filter_graph: Any = None,
        constant_framerate: bool | None = None,
        thread_count: int = 0,
        thread_type: str | None = None,
    ) -> npt.NDArray[Any]:
        """Read one frame (``index=k``) or all of them stacked (``index=...``), as imageio's pyav plugin does."""
        if format is None:
            self._layout(None)  # OSError, as imageio's pyav plugin, when not one array
        frame = self._file.read(
            index=index,
            format=format,
            filter_sequence=filter_sequence,
            filter_graph=filter_graph,
            thread_count=thread_count,
        )
        return frame if index is ... else np.array(frame)

    def iter(
        self,
        *,
        format: str | None = "rgb24",
        filter_sequence: Sequence[Any] | None = None,
        filter_graph: Any = None,
        thread_count: int = 0,
        thread_type: str | None = None,
    ) -> Iterator[npt.NDArray[Any]]:
        """Iterate over the frames, decoded one at a time."""
        if format is None:
            self._layout(None)
        yield from self._file.iter(
            format=format,
            filter_sequence=filter_sequence,
            filter_graph=filter_graph,
            thread_count=thread_count,
        )

    def write(
        self,
        ndimage: npt.ArrayLike | Sequence[npt.ArrayLike],
        *,
        codec: str | None = None,
        is_batch: bool = True,
        fps: float = 24,
        in_pixel_format: str = "rgb24",
        out_pixel_format: str | None = None,
        filter_sequence: Sequence[Any] | None = None,
        filter_graph: Any = None,
    ) -> bytes | None:
        """Write a stack of frames (or one frame) to the file."""
        if in_pixel_format not in _WRITER_INPUTS:
            frames: Any = [ndimage] if not is_batch else ndimage
            converted = [_writer_input(f, in_pixel_format)[0] for f in frames]
            ndimage, is_batch, in_pixel_format = converted, True, "rgb24"
        self._file.write(
            ndimage,
            codec=codec,
            is_batch=is_batch,
            fps=fps,
            in_pixel_format=in_pixel_format,
            out_pixel_format=out_pixel_format,
            filter_sequence=filter_sequence,
            filter_graph=filter_graph,
        )
        if self.request._uri_type == URI_BYTES:
            # Writing to "<bytes>": finalise now and hand back the encoded file.
            self._file.close()
            return self._file.getvalue()
        return None

    def _layout(self, format: str | None) -> tuple[tuple[int, ...], np.dtype[Any]]:
        """Return the shape and dtype of one frame in ``format`` (None: the stream's own).

        Laid out as imageio's pyav plugin lays it out; OSError for a format that is not one strided array
        (yuv420p, nv12, 10-bit, ...), ValueError for a name FFmpeg does not know.
        """
        meta = self._file.metadata()
        name = format if format is not None else meta["video_format"]
        if not name:
            raise OSError("the stream's pixel format is unknown: give format=")
        layout = _framepipe.pixel_format_layout(name, int(meta["width"]), int(meta["height"]))
        if layout is None:
            raise _not_strided(name)
        shape, dtype = layout
        return tuple(shape), np.dtype(dtype)

    def properties(self, index: int | EllipsisType = ..., *, format: str | None = "rgb24") -> ImageProperties:
        """Return the shape and dtype of a frame (``index=k``) or of the stack (``index=...``) without decoding them all."""
        shape, dtype = self._layout(format)
        p = self._file.properties(index, format="rgb24")  # the frame count (and index check)
        if index is ...:
            return ImageProperties(
                shape=(p.shape[0], *shape), dtype=dtype, n_images=p.n_images, is_batch=True
            )
        return ImageProperties(shape=shape, dtype=dtype, n_images=None, is_batch=False)

    def metadata(
        self,
        index: int | EllipsisType = ...,
        exclude_applied: bool = True,
        constant_framerate: bool | None = None,
    ) -> dict[str, Any]:
        """Return the file's metadata (``index=...``) or one frame's (``index=k``)."""
        meta = self._file.metadata(index)
        if index is not ...:
            # imageio's pyav plugin decodes the frame: its key_frame is the decoder's flag.
            with contextlib.suppress(ValueError):  # (not on a GStreamer-only file)
                meta.update(self._file.frame_info(index))
            return meta
        if meta.get("profile") is None and (profile := _profile(meta)) is not None:
            meta["profile"] = profile
        return meta

    def init_video_stream(
        self,
        codec: str,
        *,
        fps: float = 24,
        pixel_format: str | None = None,
        max_keyframe_interval: int | None = None,
        force_keyframes: bool | None = None,
    ) -> None:
        """Start the video stream that :meth:`write_frame` writes to."""
        self._file.init_video_stream(
            codec,
            fps=fps,
            pixel_format=pixel_format,
            max_keyframe_interval=max_keyframe_interval,
            force_keyframes=force_keyframes,
        )

    def write_frame(self, frame: npt.ArrayLike, *, pixel_format: str = "rgb24") -> None:
        """Write one frame to the stream :meth:`init_video_stream` started."""
        array, pixel_format = _writer_input(frame, pixel_format)
        self._file.write_frame(array, pixel_format=pixel_format)

    def set_video_filter(
        self, filter_sequence: Sequence[Any] | None = None, filter_graph: Any = None
    ) -> None:
        """Set the FFmpeg filters the frames read or written go through."""
        self._file.set_video_filter(filter_sequence, filter_graph)

    @property
    def container_metadata(self) -> dict[str, Any]:
        """Return the container's tags."""
        return self._file.container_metadata

    @property
    def video_stream_metadata(self) -> dict[str, Any]:
        """Return the video stream's tags."""
        return self._file.video_stream_metadata

    def close(self) -> None:
        """Close the file (and finish a file being written)."""
        if hasattr(self, "_file"):
            self._file.close()
        super().close()
