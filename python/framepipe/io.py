"""Video files, imageio-style: read frames into numpy and write numpy frames to files.

Reading is frame-exact: a demux-only scan indexes every frame of the file (no decoding), so
``read(index=k)`` returns exactly the k-th frame of sequential iteration on CFR, VFR,
B-frame, MKV, WebM and MPEG-TS inputs, and ``n_images`` is the true count, not a header's
guess. Decoded frames come out as read-only numpy views of the decoded buffers (no copy);
call ``.copy()`` for a writable array. ``format="gray"`` is full range (0-255), as in FFmpeg.

The keyword names follow imageio's pyav plugin where they overlap.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import EllipsisType, TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _framepipe

__all__ = [
    "ImageProperties",
    "VideoFile",
    "immeta",
    "imiter",
    "improps",
    "imread",
    "imwrite",
    "open",
    "video_codecs",
]

Filter = str | Sequence[tuple[str, str | dict[str, Any]]] | tuple[dict[str, Any], list[Any]] | None

_NATIVE_FORMATS = {
    "I420": "yuv420p",
    "YV12": "yuv420p",
    "NV12": "nv12",
    "Y42B": "yuv422p",
    "Y444": "yuv444p",
    "I420_10LE": "yuv420p10le",
    "GRAY8": "gray",
    "RGB": "rgb24",
    "BGR": "bgr24",
}


def _native_format(caps: str) -> str | None:
    """The decoded pixel format, in FFmpeg's name, as far as the stream's caps tell."""
    for gst_name, ffmpeg_name in _NATIVE_FORMATS.items():
        if f"format=(string){gst_name}," in caps + ",":
            return ffmpeg_name
    chroma = {"4:2:0": "yuv420p", "4:2:2": "yuv422p", "4:4:4": "yuv444p", "4:0:0": "gray"}
    for key, name in chroma.items():
        if f"chroma-format=(string){key}" in caps:
            depth = "bit-depth-luma=(uint)10" in caps
            return name + ("10le" if depth else "")
    return None


@dataclass(frozen=True)
class ImageProperties:
    """What an image (or a batch of them) looks like without reading it (imageio's
    ``ImageProperties``)."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    n_images: int | None = None
    is_batch: bool = False
    spacing: tuple[float, ...] | None = None


def video_codecs() -> list[str]:
    """The codecs whose encoders are installed, by FFmpeg name ("h264", "vp9", ...)."""
    return list(_framepipe.video_codecs())


def _combine_filter(filter: Filter, filter_sequence: Any, filter_graph: Any) -> Filter:
    """One filter from the keyword arguments. ``filter_sequence`` and ``filter_graph``
    together are imageio's pyav form: the sequence runs first and the graph's ``video_in``
    reads its output, so both become one graph."""
    if filter is not None and (filter_sequence is not None or filter_graph is not None):
        raise ValueError("give either filter or filter_sequence/filter_graph, not both")
    if filter_sequence is None or filter_graph is None:
        given = [f for f in (filter, filter_sequence, filter_graph) if f is not None]
        return given[0] if given else None
    nodes, edges = filter_graph
    sequence = list(filter_sequence)
    if not sequence:
        return (nodes, edges)
    names = [f"__sequence_{i}" for i in range(len(sequence))]
    merged = dict(nodes)
    merged.update(zip(names, sequence, strict=True))
    linked = [("video_in", names[0], 0, 0)]
    linked += [(a, b, 0, 0) for a, b in itertools.pairwise(names)]
    linked += [(names[-1] if e[0] == "video_in" else e[0], *e[1:]) for e in edges]
    return (merged, linked)


def _path(uri: str | os.PathLike[str]) -> str:
    path = os.fspath(uri)
    if path.startswith("file://"):
        path = path[len("file://") :]
    return path


class VideoFile:
    """A video file open for reading (``mode="r"``) or writing (``mode="w"``).

    Parameters
    ----------
    uri : str or path-like
        The file. For writing, the container follows the extension (.mp4, .mov, .mkv,
        .webm, .avi, .ts).
    mode : {"r", "w"}
    format : str, optional
        Default pixel format of frames read ("rgb24", "bgr24", "rgba", "bgra", "gray",
        "gray16le", "rgb48le", "yuv444p" or None for the decoder's own).
    thread_count : int
        Decoder threads (0 lets the decoder choose).
    apply_rotation : bool
        Rotate frames as the file's orientation metadata says.

    Raises
    ------
    FileNotFoundError
        Reading a file that does not exist.
    MediaError
        A file that cannot be demuxed or decoded (empty, not a video, truncated, corrupt).
    """

    def __init__(
        self,
        uri: str | os.PathLike[str],
        mode: str = "r",
        *,
        format: str | None = "rgb24",
        filter: Filter = None,
        thread_count: int = 0,
        apply_rotation: bool = False,
        crash_safe: bool = True,
    ) -> None:
        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
        self.path = _path(uri)
        self.mode = mode
        self._format = format
        self._filter = filter
        self._thread_count = thread_count
        self._apply_rotation = apply_rotation
        self._crash_safe = crash_safe
        self._readers: dict[tuple[Any, ...], _framepipe._VideoReader] = {}
        self._writer: _framepipe._VideoWriter | None = None
        self._stream: dict[str, Any] | None = None
        self._container_metadata: dict[str, Any] = {}
        self._stream_metadata: dict[str, Any] = {}
        self._closed = False
        if mode == "r":
            self._reader()  # probe now: missing or broken files fail at open

    # -- reading ------------------------------------------------------------------------

    def _reader(
        self,
        format: str | EllipsisType | None = ...,
        filter: Filter | EllipsisType = ...,
        thread_count: int | None = None,
    ) -> _framepipe._VideoReader:
        if self._closed:
            raise ValueError("I/O operation on a closed video file")
        if self.mode != "r":
            raise ValueError("the video file is open for writing")
        fmt = self._format if format is ... else format
        flt = self._filter if filter is ... else filter
        threads = self._thread_count if thread_count is None else thread_count
        key = (fmt, repr(flt), threads, self._apply_rotation)
        reader = self._readers.get(key)
        if reader is None:
            reader = _framepipe._VideoReader(
                self.path, format=fmt, filter=flt, thread_count=threads, apply_rotation=self._apply_rotation
            )
            self._readers[key] = reader
        return reader

    def read(
        self,
        *,
        index: int | EllipsisType = ...,
        format: str | None = "rgb24",
        filter: Filter = None,
        filter_sequence: Any = None,
        filter_graph: Any = None,
        thread_count: int = 0,
        constant_framerate: bool | None = None,
        thread_type: str | None = None,
    ) -> npt.NDArray[Any]:
        """Read one frame (``index=k``) or all of them stacked as (N, H, W, C) (``index=...``).

        ``constant_framerate`` and ``thread_type`` are accepted for imageio compatibility and
        ignored: indexing never assumes a constant frame rate.
        """
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        reader = self._reader(format, flt if flt is not None else self._filter, thread_count or None)
        if index is ...:
            return self._read_all(reader)
        if not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an int or ..., not {type(index).__name__}")
        if not reader.exact_count:
            for k, frame in enumerate(self._iter(reader)):
                if k == index:
                    return frame
            raise IndexError(f"frame index {index} is out of range")
        return reader.read(int(index))

    @staticmethod
    def _read_all(reader: _framepipe._VideoReader) -> npt.NDArray[Any]:
        reader.rewind()
        first = reader.next()
        if first is None:
            raise IndexError("the video has no frames")
        n = len(reader) if reader.exact_count else None
        if n is None:
            frames = [np.array(first)]
            while (frame := reader.next()) is not None:
                frames.append(np.array(frame))
            return np.stack(frames)
        out = np.empty((n, *first.shape), dtype=first.dtype)
        out[0] = first
        k = 1
        while (frame := reader.next()) is not None:
            if k >= n:  # more than indexed: grow rather than drop frames
                out = np.concatenate([out, frame[None]])
            else:
                out[k] = frame
            k += 1
        return out[:k]

    @staticmethod
    def _iter(reader: _framepipe._VideoReader) -> Iterator[npt.NDArray[Any]]:
        reader.rewind()
        while (frame := reader.next()) is not None:
            yield frame

    def iter(
        self,
        *,
        format: str | None = "rgb24",
        filter: Filter = None,
        filter_sequence: Any = None,
        filter_graph: Any = None,
        thread_count: int = 0,
        thread_type: str | None = None,
    ) -> Iterator[npt.NDArray[Any]]:
        """Yield every frame in presentation order. A decoding error is raised (MediaError)
        after the frames that did decode."""
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        return self._iter(
            self._reader(format, flt if flt is not None else self._filter, thread_count or None)
        )

    def __iter__(self) -> Iterator[npt.NDArray[Any]]:
        return self.iter(format=self._format)

    def __len__(self) -> int:
        return len(self._reader())

    def properties(self, index: int | EllipsisType = ..., *, format: str | None = "rgb24") -> ImageProperties:
        """Shape and dtype of frame ``index``, or of the whole batch for ``index=...``."""
        reader = self._reader(format)
        shape, dtype_name = reader.frame_shape()
        dtype = np.dtype(dtype_name)
        if index is not ...:
            n = len(reader)
            if not -n <= int(index) < n:
                raise IndexError(f"frame index {index} is out of range for a video of {n} frames")
            return ImageProperties(shape=tuple(shape), dtype=dtype)
        n = len(reader) if reader.exact_count else sum(1 for _ in self._iter(reader))
        return ImageProperties(shape=(n, *shape), dtype=dtype, n_images=n, is_batch=True)

    def metadata(
        self,
        index: int | EllipsisType = ...,
        exclude_applied: bool = True,
        constant_framerate: bool | None = None,
    ) -> dict[str, Any]:
        """Global metadata (``index=...``): fps, duration, codec, video_format, n_frames,
        width, height, rotation and the container and stream tags; or per frame: time,
        pts, key_frame."""
        reader = self._reader()
        if index is not ...:
            return dict(reader.frame_metadata(int(index)))
        m = dict(reader.metadata())
        caps: str = m.pop("caps", "")
        native = m.pop("pixel_format", None) or _native_format(caps)
        container_tags = m.pop("container_tags")
        stream_tags = m.pop("stream_tags")
        meta: dict[str, Any] = {**container_tags, **stream_tags}
        meta.update(m)
        meta["video_format"] = native
        meta["container_tags"] = container_tags
        meta["stream_tags"] = stream_tags
        return meta

    # -- writing ------------------------------------------------------------------------

    def init_video_stream(
        self,
        codec: str,
        *,
        fps: float = 24,
        pixel_format: str | None = None,
        max_keyframe_interval: int | None = None,
        force_keyframes: bool | None = None,
        quality: float | None = None,
        bitrate: int | None = None,
    ) -> None:
        """Choose how frames will be encoded (before the first ``write_frame``)."""
        if self.mode != "w":
            raise ValueError("the video file is open for reading")
        if self._writer is not None:
            raise ValueError("the video stream is already initialised and has frames")
        if codec not in (available := video_codecs()) and not codec.startswith("lib"):
            raise ValueError(f"unknown codec {codec!r}: available codecs are {', '.join(available)}")
        self._stream = {
            "codec": codec,
            "fps": float(fps),
            "pixel_format": pixel_format,
            "max_keyframe_interval": max_keyframe_interval,
            "force_keyframes": bool(force_keyframes),
            "quality": quality,
            "bitrate": bitrate,
        }

    def set_video_filter(self, filter_sequence: Any = None, filter_graph: Any = None) -> None:
        """Filter frames before they are encoded (writing) or after they are decoded (reading)."""
        self._filter = _combine_filter(None, filter_sequence, filter_graph)

    def write_frame(self, frame: npt.ArrayLike, *, pixel_format: str = "rgb24") -> None:
        """Encode one frame. Every frame must have the shape and dtype of the first."""
        if self._closed:
            raise ValueError("I/O operation on a closed video file")
        if self.mode != "w":
            raise ValueError("the video file is open for reading")
        if self._writer is None:
            stream = self._stream or {"codec": "h264", "fps": 24.0}
            self._writer = _framepipe._VideoWriter(
                self.path,
                in_pixel_format=pixel_format,
                filter=self._filter,
                container_tags=self._container_metadata or None,
                stream_tags=self._stream_metadata or None,
                crash_safe=self._crash_safe,
                **stream,
            )
        self._writer.write(np.asarray(frame))

    def write(
        self,
        ndimage: npt.ArrayLike | Iterable[npt.ArrayLike],
        *,
        codec: str | None = None,
        is_batch: bool = True,
        fps: float = 24,
        in_pixel_format: str = "rgb24",
        out_pixel_format: str | None = None,
        filter: Filter = None,
        filter_sequence: Any = None,
        filter_graph: Any = None,
        quality: float | None = None,
        bitrate: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Write a batch of frames ((N, H, W, C) array or an iterable of frames), or one
        frame with ``is_batch=False``."""
        if self._writer is None and self._stream is None:
            self.init_video_stream(
                codec or "h264", fps=fps, pixel_format=out_pixel_format, quality=quality, bitrate=bitrate
            )
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        if flt is not None:
            self._filter = flt
        if metadata:
            self._container_metadata.update(metadata)
        frames: Any = [ndimage] if not is_batch else ndimage
        if self._writer is None and self._stream is not None and hasattr(frames, "__len__"):
            # Knowing the length sizes a crash-safe MP4's reserved index to fit.
            self._stream.setdefault("expected_duration", len(frames) / self._stream["fps"])
        for frame in frames:
            self.write_frame(frame, pixel_format=in_pixel_format)

    @property
    def container_metadata(self) -> dict[str, Any]:
        """Container tags: read from the file, or to be written (set before the first frame)."""
        if self.mode == "r":
            return dict(self._reader().metadata()["container_tags"])
        return self._container_metadata

    @property
    def video_stream_metadata(self) -> dict[str, Any]:
        """Video stream tags: read from the file, or to be written."""
        if self.mode == "r":
            return dict(self._reader().metadata()["stream_tags"])
        return self._stream_metadata

    # -- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        """Finish: a writer finalises its file (an MP4 gets its index)."""
        if self._closed:
            return
        self._closed = True
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> VideoFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.mode
        return f"<VideoFile {self.path!r} {state}>"


def open(uri: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> VideoFile:
    """Open a video file: ``fp.open(path)`` to read, ``fp.open(path, "w")`` to write."""
    return VideoFile(uri, mode, **kwargs)


def imread(
    uri: str | os.PathLike[str],
    *,
    index: int | EllipsisType = ...,
    format: str | None = "rgb24",
    filter: Filter = None,
    thread_count: int = 0,
    apply_rotation: bool = False,
    **kwargs: Any,
) -> npt.NDArray[Any]:
    """Read frame ``index`` of a video, or all frames stacked as (N, H, W, C)."""
    with VideoFile(
        uri, format=format, filter=filter, thread_count=thread_count, apply_rotation=apply_rotation
    ) as f:
        frames = f.read(index=index, format=format, **kwargs)
        return frames if index is ... else frames.copy()


def imiter(
    uri: str | os.PathLike[str],
    *,
    format: str | None = "rgb24",
    filter: Filter = None,
    thread_count: int = 0,
    apply_rotation: bool = False,
    **kwargs: Any,
) -> Iterator[npt.NDArray[Any]]:
    """Yield the frames of a video in order, as read-only zero-copy arrays."""
    with VideoFile(
        uri, format=format, filter=filter, thread_count=thread_count, apply_rotation=apply_rotation
    ) as f:
        yield from f.iter(format=format, **kwargs)


def imwrite(
    uri: str | os.PathLike[str],
    frames: npt.ArrayLike | Iterable[npt.ArrayLike],
    *,
    fps: float = 24,
    codec: str = "h264",
    pixel_format: str | None = None,
    quality: float | None = None,
    filter: Filter = None,
    metadata: dict[str, Any] | None = None,
    in_pixel_format: str = "rgb24",
    bitrate: int | None = None,
) -> None:
    """Write frames ((N, H, W, C) array or an iterable of (H, W, C) arrays) to a video file.

    Raises
    ------
    ValueError
        An unknown codec (the message lists the available ones), or a frame whose shape
        differs from the first (the message names its index).
    """
    with VideoFile(uri, "w") as f:
        f.init_video_stream(codec, fps=fps, pixel_format=pixel_format, quality=quality, bitrate=bitrate)
        f.write(frames, fps=fps, in_pixel_format=in_pixel_format, filter=filter, metadata=metadata)


def improps(
    uri: str | os.PathLike[str], *, index: int | EllipsisType = ..., format: str | None = "rgb24"
) -> ImageProperties:
    """Shape, dtype and true frame count of a video, without decoding it all."""
    with VideoFile(uri, format=format) as f:
        return f.properties(index, format=format)


def immeta(uri: str | os.PathLike[str], *, index: int | EllipsisType = ...) -> dict[str, Any]:
    """Global metadata of a video (``index=...``) or the metadata of frame ``index``."""
    with VideoFile(uri) as f:
        return f.metadata(index)
