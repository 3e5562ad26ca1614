"""Video files, imageio-style: read frames into numpy and write numpy frames to files.

Reading is frame-exact: a demux-only scan indexes every frame of the file (no decoding), so
``read(index=k)`` returns exactly the k-th frame of sequential iteration on CFR, VFR,
B-frame, MKV, WebM and MPEG-TS inputs, and ``n_images`` is the true count, not a header's
guess. Decoded frames come out as read-only numpy views of the decoded buffers (no copy);
call ``.copy()`` for a writable array. ``format="gray"`` is full range (0-255), as in FFmpeg.

Decoding runs on FFmpeg's own libraries (libavformat, libavcodec, swscale; Debian's FFmpeg)
on the calling thread, so colours equal ``ffmpeg -pix_fmt rgb24`` (the stream's matrix and
range; BT.601 when untagged; ``colorspace=`` / ``color_range=`` override mis-tagged files).
A GStreamer ``filter=`` fragment, ``format=None`` or ``apply_rotation`` on a rotated file use
a GStreamer pipeline instead. Batches (``read_batch``, ``read_at_times``,
``imread(index=[...])``) decode each GOP they need once, several GOPs at a time.

A file's frame index can be saved (``VideoFile.save_index(path)``) and given back
(``frame_index=path``) so long videos open without a scan.

The keyword names follow imageio's pyav plugin where they overlap.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io as _stdio
import itertools
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import EllipsisType, TracebackType
from typing import Any, TypeGuard, cast

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
FrameIndexSource = str | os.PathLike[str] | dict[str, Any] | None
Indices = Sequence[int] | npt.NDArray[np.integer[Any]] | range
#: What can be read: a path, the encoded file as bytes, or a binary file object.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | Any
#: Where a video can be written: a path, "<bytes>" (imwrite returns the file), or a binary
#: file object with ``write``.
Destination = str | os.PathLike[str] | Any

# Containers and codecs only the libav writer writes (Debian's GStreamer has no GIF encoder).
_LIBAV_EXTENSIONS = {"gif", "png", "apng"}
_LIBAV_CODECS = {"gif", "png", "apng"}


def _index_text(frame_index: FrameIndexSource) -> str | None:
    """Return a saved frame index as JSON text: read from a path, or serialised from its dict."""
    if frame_index is None:
        return None
    if isinstance(frame_index, dict):
        return json.dumps(frame_index)
    with builtins.open(os.fspath(frame_index), encoding="utf-8") as f:
        return f.read()


def _indices(indices: Any) -> list[int]:
    """Return a list of ints from a sequence or an integer array; TypeError for anything else."""
    if isinstance(indices, np.ndarray):
        if indices.dtype.kind not in "iu":
            raise TypeError(f"frame indices must be integers, not an array of {indices.dtype}")
        return [int(k) for k in indices.reshape(-1)]
    if isinstance(indices, (str, bytes)) or not isinstance(indices, Iterable):
        raise TypeError(f"frame indices must be a sequence of ints, not {type(indices).__name__}")
    out = []
    for k in indices:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"frame indices must be ints, not {type(k).__name__} ({k!r})")
        out.append(int(k))
    return out


# The formats the decoders write and the writers take as they are (OutputFormat in the Rust
# core), by FFmpeg name.
_DECODER_FORMATS = frozenset({"rgb24", "bgr24", "rgba", "bgra", "gray", "gray16le", "rgb48le", "yuv444p"})
# FFmpeg's native-endian aliases (this is a little-endian build).
_ALIASES = {"rgb48": "rgb48le", "gray16": "gray16le"}
# Where each colour of a 2x2 Bayer tile sits: (row, column, RGB channel).
_BAYER_TILES = {
    "rggb": ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)),
    "bggr": ((0, 0, 2), (0, 1, 1), (1, 0, 1), (1, 1, 0)),
    "gbrg": ((0, 0, 1), (0, 1, 2), (1, 0, 0), (1, 1, 1)),
    "grbg": ((0, 0, 1), (0, 1, 0), (1, 0, 2), (1, 1, 1)),
}


def _mosaic(tile: tuple[tuple[int, int, int], ...], dtype: str) -> Any:
    """Return a conversion of RGB frames (..., H, W, 3) to a Bayer mosaic (..., H, W).

    Each pixel keeps the one colour its filter passes (what a Bayer sensor records).
    """

    def convert(rgb: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out = np.empty(rgb.shape[:-1], dtype=np.dtype(dtype))
        for dy, dx, c in tile:
            out[..., dy::2, dx::2] = rgb[..., dy::2, dx::2, c]
        return out

    return convert


def _output_format(name: str) -> tuple[str, Any, str | None]:
    """Return how to produce output format ``name``.

    That is (the decoder's format, a conversion of its frames or None, the dtype of the result when it
    differs). ValueError for a format that cannot be produced.
    """
    fmt = _ALIASES.get(name.lower(), name.lower())
    if fmt in _DECODER_FORMATS:
        return fmt, None, None
    if fmt == "rgb48be":
        return "rgb48le", lambda a: a.astype(">u2"), ">u2"
    if fmt.startswith("bayer_") and fmt[6:10] in _BAYER_TILES and fmt[10:] in ("8", "16le", "16be", "16"):
        tile = _BAYER_TILES[fmt[6:10]]
        if fmt.endswith("8"):
            return "rgb24", _mosaic(tile, "uint8"), "uint8"
        dtype = ">u2" if fmt.endswith("be") else "<u2"
        return "rgb48le", _mosaic(tile, dtype), dtype
    known = sorted(_DECODER_FORMATS | {"rgb48", "rgb48be", "bayer_rggb8", "bayer_rggb16le", "..."})
    raise ValueError(f"unknown or unsupported pixel format {name!r}: expected one of {', '.join(known)}")


class _Converted:
    """A reader whose frames are converted after decoding.

    For the formats FFmpeg's swscale does not write, such as Bayer mosaics, or byte orders numpy keeps in
    the dtype.
    """

    def __init__(self, reader: _framepipe._VideoReader, convert: Any, dtype: str | None) -> None:
        self._inner = reader
        self._convert = convert
        self._dtype = dtype

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)

    def read(self, index: int) -> npt.NDArray[Any]:
        return self._convert(self._inner.read(index))  # type: ignore[no-any-return]

    def read_batch(self, indices: list[int]) -> npt.NDArray[Any]:
        return self._convert(self._inner.read_batch(indices))  # type: ignore[no-any-return]

    def next(self) -> npt.NDArray[Any] | None:
        frame = self._inner.next()
        return None if frame is None else self._convert(frame)

    def frame_shape(self) -> tuple[list[int], str]:
        shape, dtype = self._inner.frame_shape()
        probe = self._convert(np.zeros(shape, np.dtype(dtype)))
        return list(probe.shape), self._dtype or str(probe.dtype)


@dataclass(frozen=True)
class ImageProperties:
    """What an image (or a batch of them) looks like without reading it (imageio's ``ImageProperties``)."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    n_images: int | None = None
    is_batch: bool = False
    spacing: tuple[float, ...] | None = None


def video_codecs() -> list[str]:
    """Return the codecs whose encoders are installed, by FFmpeg name ("h264", "vp9", ...)."""
    return list(_framepipe.video_codecs())


def _combine_filter(filter: Filter, filter_sequence: Any, filter_graph: Any) -> Filter:
    """One filter from the keyword arguments.

    ``filter_sequence`` and ``filter_graph`` together are imageio's pyav form: the sequence runs first and
    the graph's ``video_in`` reads its output, so both become one graph.
    """
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


def _default_codec(container: str) -> str:
    """Return the codec a container gets when none is named."""
    return {"gif": "gif", "png": "png", "apng": "apng", "webm": "vp9"}.get(
        container.lower().lstrip("."), "h264"
    )


def _is_path(uri: Any) -> TypeGuard[str | os.PathLike[str]]:
    return isinstance(uri, str | os.PathLike)


_memfd_serial = itertools.count()


class _MemoryFile:
    """Encoded bytes held as an anonymous in-memory file (``memfd_create``).

    Readable by path (``/proc/self/fd/N``) by libavformat and GStreamer alike; nothing is written to
    disk. Where memfd does not exist, a temporary file deleted on close stands in.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._tmp: Any = None
        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is not None and os.path.isdir("/proc/self/fd"):
            # A unique name and modification time: the frame-index caches key on them.
            self.fd = memfd_create(f"framepipe-{os.getpid()}-{next(_memfd_serial)}", 0)
            with builtins.open(self.fd, "wb", closefd=False) as f:
                f.write(data)
            stamp = time.time_ns() + next(_memfd_serial)
            os.utime(self.fd, ns=(stamp, stamp))
            self.path = f"/proc/self/fd/{self.fd}"
        else:  # pragma: no cover - non-Linux
            self._tmp = tempfile.NamedTemporaryFile(prefix="framepipe-", suffix=".bin")
            self._tmp.write(data)
            self._tmp.flush()
            self.fd = -1
            self.path = self._tmp.name

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.close()
            self._tmp = None
        elif self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _read_source(uri: Any) -> bytes:
    """Return the encoded bytes of a bytes-like or file-object source.

    Raises TypeError for an object that is neither, or a file object that cannot be read
    (no ``read``, ``readable()`` false, or opened in text mode).
    """
    if isinstance(uri, bytes | bytearray | memoryview):
        return bytes(uri)
    read = getattr(uri, "read", None)
    if not callable(read):
        raise TypeError(
            f"cannot read a video from a {type(uri).__name__}: give a path, bytes or a binary file object with read()"
        )
    readable = getattr(uri, "readable", None)
    if callable(readable) and not readable():
        raise TypeError(f"the file object {uri!r} is not readable (opened for writing?)")
    data = read()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(
            f"the file object's read() returned {type(data).__name__}, not bytes: open the file in binary mode ('rb')"
        )
    return bytes(data)


def _writable_target(uri: Any) -> Any:
    """Return the file object to write into; TypeError when it cannot be written."""
    write = getattr(uri, "write", None)
    if not callable(write):
        raise TypeError(
            f'cannot write a video to a {type(uri).__name__}: give a path, "<bytes>" or a binary file object '
            "with write()"
        )
    writable = getattr(uri, "writable", None)
    if callable(writable) and not writable():
        raise TypeError(f"the file object {uri!r} is not writable (opened for reading?)")
    if isinstance(uri, _stdio.TextIOBase):
        raise TypeError("the file object is a text stream: open the file in binary mode ('wb')")
    return uri


class VideoFile:
    """A video file open for reading (``mode="r"``) or writing (``mode="w"``).

    Parameters
    ----------
    uri : str, path-like, bytes or file object
        The file. Reading also takes the encoded file as bytes or a binary file object
        (read into memory, never into a temporary file). Writing also takes ``"<bytes>"``
        (``getvalue()`` gives the file after ``close``) or a binary file object with
        ``write`` (seeked back into when it is seekable; an MP4 to an unseekable one is
        written fragmented). The container follows the extension (.mp4, .mov, .mkv, .webm,
        .avi, .ts, .gif, .png, .apng) or ``extension=``.
    mode : {"r", "w"}
    format : str, optional
        Default pixel format of frames read ("rgb24", "bgr24", "rgba", "bgra", "gray",
        "gray16le", "rgb48le" (alias "rgb48"), "rgb48be", "bayer_*", "yuv444p" or None for
        the decoder's own); see :func:`imread`.
    filter : str or sequence of (name, params), optional
        Applied to every frame read (or, for writing, before encoding); see :func:`imread`.
    thread_count : int
        Decoder threads (0: FFmpeg's reader takes one per core below 1080p and FFmpeg's own choice from 1080p up; the GStreamer reader lets its decoder choose).
    apply_rotation : bool
        Rotate frames as the file's orientation metadata says (``metadata()["rotation"]``,
        FFmpeg's convention: counter-clockwise degrees, e.g. 90 or -90). Default False, as
        imageio's pyav plugin: frames come out as stored.
    crash_safe : bool
        Writing MP4/MOV: keep the file playable up to its last ~2 s if the process dies
        (default True); False writes a plain MP4.
    frame_index : str, path-like or dict, optional
        A frame index saved by :meth:`save_index` (its path, or the parsed JSON), used
        instead of scanning the file. It must have been saved for this file (its size is
        checked); ValueError otherwise.
    colorspace : {"bt601", "bt709", "bt2020"}, optional
        The YUV matrix to convert with, overriding what the stream signals (default: as
        signalled; BT.601 when the stream does not say, as FFmpeg does).
    color_range : {"limited", "full"}, optional
        The YUV range, overriding what the stream signals ("tv"/"pc" are accepted too).
    extension : str, optional
        The container to write (".mp4", ".gif", ...): needed for ``"<bytes>"`` and file
        objects, else taken from the path.
    loop : int, optional
        GIF/APNG: times the animation repeats (0 forever, the default; -1 plays once).

    Raises
    ------
    FileNotFoundError
        Reading a file that does not exist.
    MediaError
        A file (or bytes) that cannot be demuxed or decoded (empty, not a video, truncated,
        corrupt).
    TypeError
        A source that is neither a path, bytes nor a readable binary file object (or, for
        writing, not a writable one).
    """

    def __init__(
        self,
        uri: Source | Destination,
        mode: str = "r",
        *,
        format: str | None = "rgb24",
        filter: Filter = None,
        thread_count: int = 0,
        apply_rotation: bool = False,
        crash_safe: bool = True,
        frame_index: FrameIndexSource = None,
        colorspace: str | None = None,
        color_range: str | None = None,
        extension: str | None = None,
        loop: int | None = None,
    ) -> None:
        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
        self._memory: _MemoryFile | None = None
        self._target: Any = None  # writing: None (a path), "<bytes>" or a file object
        self._encoded: bytes | None = None
        self._extension = extension
        self._loop = loop
        if mode == "r":
            if _is_path(uri):
                self.path = _path(uri)
            else:
                self._memory = _MemoryFile(_read_source(uri))
                self.path = self._memory.path
        elif isinstance(uri, str) and uri == "<bytes>":
            self._target = "<bytes>"
            self.path = "<bytes>"
        elif not _is_path(uri):
            self._target = _writable_target(uri)
            self.path = f"<{type(uri).__name__}>"
        else:
            self.path = _path(uri)
        self.mode = mode
        self._format = format
        self._filter = filter
        self._thread_count = thread_count
        self._apply_rotation = apply_rotation
        self._crash_safe = crash_safe
        self._index_text = _index_text(frame_index)
        self._colorspace = colorspace
        self._color_range = color_range
        self._readers: dict[tuple[Any, ...], _framepipe._VideoReader] = {}
        self._writer: _framepipe._VideoWriter | _framepipe._AvWriter | None = None
        self._stream: dict[str, Any] | None = None
        self._container_metadata: dict[str, Any] = {}
        self._stream_metadata: dict[str, Any] = {}
        self._closed = False
        if mode == "r":
            try:
                self._reader()  # probe now: missing or broken files fail at open
            except BaseException:
                self.close()
                raise
        elif self._target is None:
            _check_folder(self.path)  # fail at open, not after the first frame
        elif extension is None:
            raise ValueError(
                "writing to bytes or a file object needs the container: give extension='.mp4' (or .gif, ...)"
            )

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
        if reader is not None:
            return reader
        convert = dtype = None
        if fmt is None and flt is None:
            # The native format, when the FFmpeg reader writes it (one strided array):
            # decoded and copied by FFmpeg, not by a GStreamer pipeline.
            native = self._reader("rgb24", None, threads).metadata()["pixel_format"]
            fmt = native if native in _DECODER_FORMATS else None
        elif fmt is not None:
            fmt, convert, dtype = _output_format(fmt)
        reader = _framepipe._VideoReader(
            self.path,
            format=fmt,
            filter=flt,
            thread_count=threads,
            apply_rotation=self._apply_rotation,
            frame_index=self._index_text,
            colorspace=self._colorspace,
            color_range=self._color_range,
        )
        if convert is not None:
            reader = cast(_framepipe._VideoReader, _Converted(reader, convert, dtype))
        self._readers[key] = reader
        return reader

    def read(
        self,
        *,
        index: int | EllipsisType | Indices = ...,
        format: str | None = "rgb24",
        filter: Filter = None,
        filter_sequence: Any = None,
        filter_graph: Any = None,
        thread_count: int = 0,
        constant_framerate: bool | None = None,
        thread_type: str | None = None,
    ) -> npt.NDArray[Any]:
        """Read one frame (``index=k``), all of them stacked as (N, H, W, C) (``index=...``), or the frames of a list or integer array of indices (``index=[...]``, as :meth:`read_batch`).

        ``constant_framerate`` and ``thread_type`` are accepted for imageio compatibility and
        ignored: indexing never assumes a constant frame rate.
        """
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        if index is not ... and not isinstance(index, int | np.integer):
            if isinstance(index, np.ndarray) and index.ndim == 0:
                index = index.item()
            else:
                frames: npt.NDArray[Any] = self.read_batch(
                    index, format=format, filter=flt, thread_count=thread_count
                )
                return frames
        reader = self._reader(format, flt if flt is not None else self._filter, thread_count or None)
        if index is ...:
            return self._read_all(reader)
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an int, a list of ints or ..., not {type(index).__name__}")
        if not reader.exact_count:
            for k, frame in enumerate(self._iter(reader)):
                if k == index:
                    return frame
            raise IndexError(f"frame index {index} is out of range")
        return reader.read(int(index))

    def read_batch(
        self,
        indices: Indices,
        *,
        format: str | None = "rgb24",
        filter: Filter = None,
        thread_count: int = 0,
        return_times: bool = False,
    ) -> Any:
        """Frames at ``indices`` as one (N, H, W, C) array, in the order asked.

        Indices may come in any order, repeat, or be negative (from the end). Every index is
        checked before anything is decoded. Each GOP involved is decoded at most once (and
        several GOPs at a time, one decoder per core); frames nothing references are not
        decoded and only the requested frames are converted.

        Parameters
        ----------
        indices : sequence of int or integer array
        format, filter, thread_count
            As for :meth:`read`.
        return_times : bool
            Also return each frame's pts and display duration, in seconds from the first
            frame (float64 arrays of length N).

        Returns
        -------
        frames : ndarray, or (frames, pts, duration) with ``return_times``

        Raises
        ------
        IndexError
            An index out of range (the message names it).
        TypeError
            An index that is not an int.
        """
        ks = _indices(indices)
        flt = filter if filter is not None else self._filter
        reader = self._reader(format, flt, thread_count or None)
        if reader.backend == "libav":
            frames = reader.read_batch(ks)
        else:
            n = len(reader)
            for k in ks:
                if not -n <= k < n:
                    raise IndexError(f"frame index {k} is out of range for a video of {n} frames")
            shape, dtype = reader.frame_shape()
            frames = np.empty((len(ks), *shape), np.dtype(dtype))
            cache: dict[int, npt.NDArray[Any]] = {}
            for j, k in sorted(enumerate(ks), key=lambda jk: jk[1] % n):
                kk = k % n
                if kk not in cache:
                    cache = {kk: reader.read(kk)}
                frames[j] = cache[kk]
        if not return_times:
            return frames
        pts, duration = reader.frame_times(ks)
        return frames, np.asarray(pts, np.float64), np.asarray(duration, np.float64)

    def read_at_times(
        self,
        seconds: Sequence[float] | npt.NDArray[np.floating[Any]],
        *,
        format: str | None = "rgb24",
        filter: Filter = None,
        thread_count: int = 0,
        return_times: bool = False,
    ) -> Any:
        """Return the frames displayed at ``seconds`` (measured from the first frame, as ``time`` is): for each t, the frame whose [pts, pts + duration) holds it, where a frame lasts until the next one starts.

        Returns what :meth:`read_batch` returns.

        Raises
        ------
        IndexError
            A time before the first frame or after the last one ends (the message names it).
        """
        times = [float(t) for t in np.asarray(seconds, np.float64).reshape(-1)]
        ks = self._reader().indices_at_times(times)
        return self.read_batch(
            ks, format=format, filter=filter, thread_count=thread_count, return_times=return_times
        )

    def save_index(self, path: str | os.PathLike[str]) -> None:
        """Save the frame index (JSON) so that ``open(uri, frame_index=path)`` skips the scan."""
        text = self._reader().index_json()
        with builtins.open(os.fspath(path), "w", encoding="utf-8") as f:
            f.write(text)

    @staticmethod
    def _read_all(reader: _framepipe._VideoReader) -> npt.NDArray[Any]:
        if reader.backend == "libav":
            return reader.read_batch(list(range(len(reader))))
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
        start: int = 0,
        stop: int | None = None,
        step: int = 1,
    ) -> Iterator[npt.NDArray[Any]]:
        """Yield every frame in presentation order, or frames ``start:stop:step`` (as a slice of the frame list; only what those frames need is decoded).

        A decoding error is raised (MediaError) after the frames that did decode.
        """
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        reader = self._reader(format, flt if flt is not None else self._filter, thread_count or None)
        if (start, stop, step) == (0, None, 1):
            return self._iter(reader)
        if step == 0:
            raise ValueError("step must not be zero")
        return self._iter_slice(reader, start, stop, step)

    @staticmethod
    def _iter_slice(
        reader: _framepipe._VideoReader, start: int, stop: int | None, step: int
    ) -> Iterator[npt.NDArray[Any]]:
        if not reader.exact_count:
            for k, frame in enumerate(VideoFile._iter(reader)):
                if k >= start and (stop is None or k < stop) and (k - start) % step == 0:
                    yield frame
            return
        ks = range(*slice(start, stop, step).indices(len(reader)))
        if step == 1:
            # Contiguous: one read positions the decoder, then sequential decoding.
            if len(ks) == 0:
                return
            yield reader.read(ks[0])
            for _ in ks[1:]:
                nxt = reader.next()
                if nxt is None:
                    return
                yield nxt
            return
        if reader.backend != "libav":
            for k in ks:
                yield reader.read(k)
            return
        chunk = 32  # batches keep GOPs decoding in parallel; frames are views of a batch
        for i in range(0, len(ks), chunk):
            yield from reader.read_batch(list(ks[i : i + chunk]))

    def __iter__(self) -> Iterator[npt.NDArray[Any]]:
        """Iterate over the frames in the reader's format."""
        return self.iter(format=self._format)

    def __len__(self) -> int:
        """Return the number of frames, from the frame index."""
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
        """Return the file's metadata (``index=...``) or one frame's (``index=k``).

        Global metadata: fps, duration, codec, profile, video_format, n_frames, width, height,
        rotation and the container and stream tags (``encoder``, ...). Per frame, from the index
        (nothing is decoded): time, pts, dts, duration, key_frame (the container's flag);
        :meth:`frame_info` decodes the frame for what the decoder says of it.
        """
        reader = self._reader()
        if index is not ...:
            return dict(reader.frame_metadata(int(index)))
        m = dict(reader.metadata())
        # Named by the core's pixel-format table (a raw stream's format, or a coded one's
        # chroma format and depth); the caps stay out of the metadata.
        m.pop("caps", None)
        native = m.pop("pixel_format")
        container_tags = m.pop("container_tags")
        stream_tags = m.pop("stream_tags")
        meta: dict[str, Any] = {**container_tags, **stream_tags}
        meta.update(m)
        meta["video_format"] = native
        meta["container_tags"] = container_tags
        meta["stream_tags"] = stream_tags
        return meta

    def frame_info(self, index: int) -> dict[str, Any]:
        """Return what the decoder reports of frame ``index``.

        The frame is decoded; this is what imageio's pyav plugin gives per frame: ``frame_type``
        ("I", "P", "B", ...), ``key_frame`` (the decoder's flag: an IDR or recovery point),
        ``interlaced_frame`` and ``top_field_first``.

        Raises
        ------
        IndexError
            ``index`` is out of range.
        ValueError
            The file is read through a GStreamer pipeline (a GStreamer ``filter=``).
        """
        return dict(self._reader().frame_info(int(index)))

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
        libav_codec = codec.lower() in _LIBAV_CODECS
        if codec not in (available := video_codecs()) and not codec.startswith("lib") and not libav_codec:
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
        if self._writer is None and (self._uses_libav() or pixel_format.lower().startswith("bayer_")):
            stream = self._stream or {"codec": None, "fps": 24.0}
            self._writer = _framepipe._AvWriter(
                self._writer_target(),
                container=self._container(),
                codec=stream.get("codec"),
                fps=stream["fps"],
                in_pixel_format=pixel_format,
                pixel_format=stream.get("pixel_format"),
                quality=stream.get("quality"),
                bitrate=stream.get("bitrate"),
                max_keyframe_interval=stream.get("max_keyframe_interval"),
                force_keyframes=bool(stream.get("force_keyframes")),
                filter=self._filter,
                loop_count=self._loop,
                container_tags=self._container_metadata or None,
            )
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

    def _writer_target(self) -> Any:
        """Return what the libav writer writes into: a path, None (bytes) or the file object."""
        if self._target is None:
            return self.path
        return None if self._target == "<bytes>" else self._target

    def _container(self) -> str:
        """Return the container's extension, without the dot ("mp4", "gif", ...)."""
        if self._extension is not None:
            return self._extension.lower().lstrip(".")
        return os.path.splitext(self.path)[1].lower().lstrip(".")

    def _uses_libav(self) -> bool:
        """Return whether the libav writer writes this file.

        It does for bytes and file objects, GIF, PNG and APNG (GStreamer writes the other files,
        crash-safe MP4 included).
        """
        codec = str((self._stream or {}).get("codec") or "").lower()
        return self._target is not None or self._container() in _LIBAV_EXTENSIONS or codec in _LIBAV_CODECS

    def getvalue(self) -> bytes:
        """Return the encoded file, after ``close``, of a video written to ``"<bytes>"``."""
        if self._target != "<bytes>":
            raise ValueError("getvalue() is for videos written to '<bytes>'")
        if self._encoded is None:
            raise ValueError("the video is not finished: close() it first")
        return self._encoded

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
        """Write a batch of frames ((N, H, W, C) array or an iterable of frames), or one frame with ``is_batch=False``."""
        if self._writer is None and self._stream is None:
            self.init_video_stream(
                codec or _default_codec(self._container()),
                fps=fps,
                pixel_format=out_pixel_format,
                quality=quality,
                bitrate=bitrate,
            )
        flt = _combine_filter(filter, filter_sequence, filter_graph)
        if flt is not None:
            self._filter = flt
        if metadata:
            self._container_metadata.update(metadata)
        frames: Any = [ndimage] if not is_batch else ndimage
        if (
            self._writer is None
            and self._stream is not None
            and hasattr(frames, "__len__")
            and self._stream["fps"] > 0
        ):
            # Knowing the length sizes a crash-safe MP4's reserved index to fit (a bad fps is
            # refused by the writer, as ValueError).
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
            encoded = self._writer.close()
            if isinstance(encoded, bytes):
                self._encoded = encoded
        if self._memory is not None:
            self._memory.close()

    def __enter__(self) -> VideoFile:
        """Return the file itself; leaving the block closes it."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the file."""
        self.close()

    def __repr__(self) -> str:
        """Return the path and mode, and whether the file is closed."""
        state = "closed" if self._closed else self.mode
        return f"<VideoFile {self.path!r} {state}>"


def open(uri: Source, mode: str = "r", **kwargs: Any) -> VideoFile:
    """Open a video file: ``fp.open(path)`` to read, ``fp.open(path, "w")`` to write.

    Parameters
    ----------
    uri : str, path-like, bytes or file object
        The file (``file://`` URIs are accepted). Reading also takes the encoded file as
        bytes or a binary file object; writing also takes ``"<bytes>"`` or a binary file
        object with ``write`` (give ``extension=``). For writing, the container follows the
        extension: .mp4, .mov, .mkv, .webm, .avi, .ts, .gif, .png (one image, or an image
        sequence such as ``frame_%03d.png``) or .apng.
    mode : {"r", "w"}
        Read (default) or write.
    **kwargs
        Passed to :class:`VideoFile`: ``format`` (default pixel format of frames read),
        ``filter`` (applied to every frame read), ``thread_count`` (decoder threads, 0 lets
        the decoder choose), ``apply_rotation`` (rotate frames as the file's orientation
        metadata asks; default False, as imageio's pyav plugin) and, for writing,
        ``crash_safe`` (MP4/MOV stay playable up to their last ~2 s if the process dies;
        default True).

    Returns
    -------
    VideoFile
        Use it as a context manager (``with fp.open(path) as f:``) or call ``close()``; a
        writer finalises its file on close.

    Raises
    ------
    FileNotFoundError
        Reading a file that does not exist, or writing into a folder that does not exist.
    MediaError
        Reading a file (or bytes) that cannot be demuxed or decoded.
    TypeError
        A file object that cannot be read (or written, for ``"w"``).

    Examples
    --------
    >>> with fp.open("clip.ts") as f:                                  # doctest: +SKIP
    ...     small = f.read(index=10, filter=[("scale", "320:-1"), ("hflip", "")])
    """
    return VideoFile(uri, mode, **kwargs)


def _open_for_reading(
    uri: Source,
    format: str | None,
    filter: Filter,
    thread_count: int,
    apply_rotation: bool,
    frame_index: FrameIndexSource,
    colorspace: str | None,
    color_range: str | None,
) -> VideoFile:
    """Open ``uri`` for reading with the options :func:`imread` and :func:`imiter` share."""
    return VideoFile(
        uri,
        format=format,
        filter=filter,
        thread_count=thread_count,
        apply_rotation=apply_rotation,
        frame_index=frame_index,
        colorspace=colorspace,
        color_range=color_range,
    )


def imread(
    uri: Source,
    *,
    index: int | EllipsisType | Indices = ...,
    format: str | None = "rgb24",
    filter: Filter = None,
    thread_count: int = 0,
    apply_rotation: bool = False,
    frame_index: FrameIndexSource = None,
    colorspace: str | None = None,
    color_range: str | None = None,
    **kwargs: Any,
) -> npt.NDArray[Any]:
    """Read one frame of a video, or all of its frames stacked.

    Parameters
    ----------
    uri : str, path-like, bytes or file object
        The video file (MP4, MOV, MKV, WebM, MPEG-TS, AVI, GIF, ...), or its bytes, or a
        binary file object to read them from (held in memory, not in a temporary file).
    index : int or Ellipsis or sequence of int
        ``...`` (default) reads every frame as one (N, H, W, C) array; an int ``k`` reads
        exactly the k-th frame in presentation order (negative counts from the end), the
        same frame sequential iteration gives, also on VFR and B-frame files; a list or
        integer array of indices reads those frames as (N, H, W, C) in the order asked
        (any order, repeats, negatives), decoding each GOP at most once.
    format : str or None
        Pixel format of the result: "rgb24" (default, (H, W, 3) uint8), "bgr24", "rgba",
        "bgra" ((H, W, 4)), "gray" (full-range luma, (H, W) uint8), "gray16le" ((H, W)
        uint16), "rgb48le" or "rgb48" ((H, W, 3) uint16), "rgb48be" (the same values in a
        big-endian dtype), "bayer_rggb8" / "bggr" / "gbrg" / "grbg" ((H, W) uint8: each pixel
        keeps the colour its filter passes; "bayer_*16le"/"16be" from rgb48), "yuv444p"
        ((3, H, W)) or None for the decoder's own format when it is one of these (else the
        GStreamer reader's planes). Other names raise ValueError.
    filter : str or sequence of (name, params), optional
        Applied to every frame after decoding: a GStreamer fragment
        (``"videoflip video-direction=90r ! videoscale ! video/x-raw,width=320"``) or FFmpeg-style
        ``(name, params)`` pairs, e.g. ``[("scale", "320:-1"), ("hflip", "")]``; scale, crop,
        hflip, vflip, transpose, fps, rotate and format are understood, other names are
        GStreamer elements with ``params`` as their properties.
    thread_count : int
        Decoder threads; 0 (default): one per core below 1080p, FFmpeg's own choice from 1080p up (the GStreamer reader: its decoder's choice).
    apply_rotation : bool
        Rotate frames as the file's orientation metadata (``immeta(uri)["rotation"]``) asks,
        so that phone videos come out upright. Default False, as in imageio's pyav plugin:
        frames come out as stored.
    frame_index : str, path-like or dict, optional
        A frame index saved by :meth:`VideoFile.save_index`, used instead of scanning the
        file.
    colorspace : {"bt601", "bt709", "bt2020"}, optional
        The YUV matrix, overriding what the stream signals (default: as signalled; BT.601
        when the stream does not say, as FFmpeg does).
    color_range : {"limited", "full"}, optional
        The YUV range, overriding what the stream signals.
    **kwargs
        Passed to :meth:`VideoFile.read` (imageio compatibility: ``filter_sequence``,
        ``filter_graph``, ``constant_framerate``, ``thread_type``).

    Returns
    -------
    numpy.ndarray
        (N, H, W, C) for ``index=...``; (H, W, C) (or (H, W) for gray) for one frame. The
        result is writable and owns its memory.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    MediaError
        The file (or bytes) cannot be demuxed or decoded.
    TypeError
        ``uri`` is neither a path, bytes nor a readable binary file object.
    IndexError
        An index is out of range (named in the message; nothing is decoded).
    TypeError
        An index that is not an integer.
    """
    with _open_for_reading(
        uri, format, filter, thread_count, apply_rotation, frame_index, colorspace, color_range
    ) as f:
        frames = f.read(index=index, format=format, **kwargs)
        return frames if index is ... or not isinstance(index, int | np.integer) else frames.copy()


def imiter(
    uri: Source,
    *,
    format: str | None = "rgb24",
    filter: Filter = None,
    thread_count: int = 0,
    apply_rotation: bool = False,
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
    frame_index: FrameIndexSource = None,
    colorspace: str | None = None,
    color_range: str | None = None,
    **kwargs: Any,
) -> Iterator[npt.NDArray[Any]]:
    """Yield the frames of a video in presentation order.

    Parameters
    ----------
    uri : str or path-like
        The video file.
    format : str or None
        Pixel format of each frame, as for :func:`imread` ("rgb24" by default, "gray",
        "bgr24", "rgba", "gray16le", "rgb48le", "yuv444p", None).
    filter : str or sequence of (name, params), optional
        Applied to every frame, as for :func:`imread`.
    thread_count : int
        Decoder threads; 0 (default): one per core below 1080p, FFmpeg's own choice from 1080p up (the GStreamer reader: its decoder's choice).
    apply_rotation : bool
        Rotate frames as the file's orientation metadata asks (default False).
    start, stop, step : int
        Yield frames ``start:stop:step`` only, decoding just what they need (default: all).
    frame_index, colorspace, color_range
        As for :func:`imread`.
    **kwargs
        Passed to :meth:`VideoFile.iter` (``filter_sequence``, ``filter_graph``,
        ``thread_type``).

    Yields
    ------
    numpy.ndarray
        Read-only zero-copy views of the decoded frames; ``.copy()`` one to keep or modify
        it.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    MediaError
        The file cannot be opened, or decoding fails (raised after the frames that did
        decode).
    """
    with _open_for_reading(
        uri, format, filter, thread_count, apply_rotation, frame_index, colorspace, color_range
    ) as f:
        yield from f.iter(format=format, start=start, stop=stop, step=step, **kwargs)


def imwrite(
    uri: Destination,
    frames: npt.ArrayLike | Iterable[npt.ArrayLike],
    *,
    fps: float | None = None,
    codec: str | None = None,
    pixel_format: str | None = None,
    quality: float | None = None,
    filter: Filter = None,
    metadata: dict[str, Any] | None = None,
    in_pixel_format: str = "rgb24",
    bitrate: int | None = None,
    extension: str | None = None,
    loop: int | None = None,
    duration: float | None = None,
) -> bytes | None:
    """Write frames to a video file, all at once.

    Parameters
    ----------
    uri : str, path-like or file object
        The file to write; its folder must exist. ``"<bytes>"`` returns the encoded file
        as bytes instead, and a binary file object (anything with ``write``) receives it;
        neither goes through a temporary file. The container follows the extension (or
        ``extension=``): .mp4, .mov, .mkv, .webm, .avi, .ts, .gif (animated GIF), .png
        (one image, or an image sequence with a pattern such as ``frame_%03d.png``) or
        .apng (animated PNG).
    frames : array-like or iterable of array-like
        An (N, H, W, C) array or any iterable of (H, W, C) frames (a generator works), all
        of the same shape and dtype, uint8 (uint16 for gray16le). A 2-D uint8 frame (H, W)
        is written as gray (and a 2-D uint16 one as gray16le).
    fps : float, optional
        Frames per second (default 24). GIF stores delays in 1/100 s: at most 100.
    codec : str, optional
        "h264" (the default, "vp9" for .webm), "hevc", "vp8", "vp9", "av1" or "mjpeg"
        (FFmpeg encoder names such as "libx264" are accepted; ``fp.video_codecs()`` lists
        those installed); "gif", "png" and "apng" (the defaults for .gif, .png and .apng).
    pixel_format : str, optional
        Encoded pixel format by FFmpeg name: "yuv420p" (the default for video codecs; what
        browsers and players accept), "yuv422p", "yuv444p", "nv12", "gray",
        "yuv420p10le". H.264 and HEVC in yuv420p need an even width and height. GIF takes
        "pal8" (the default for colour frames: one palette for the whole video, made by
        libavfilter's palettegen/paletteuse), "gray" (the default for gray frames), "rgb8"
        or "bgr8"; PNG "rgb24", "rgba", "gray", "gray16be", ...
    quality : float, optional
        0 (worst) to 10 (best); the default is the codec's usual quality (x264: CRF 23).
    filter : str or sequence of (name, params), optional
        Applied before encoding, as for :func:`imread`.
    metadata : dict, optional
        Container tags by GStreamer tag name or FFmpeg key ("title", "comment", ...).
    in_pixel_format : str
        Layout of the arrays: "rgb24" (default), "bgr24", "rgba", "bgra", "gray",
        "gray16le" or "yuv444p" ((3, H, W)).
    bitrate : int, optional
        Target bit rate in bits per second (overrides ``quality``).
    extension : str, optional
        The container (".mp4", ".gif", ...): required for ``"<bytes>"`` and file objects.
    loop : int, optional
        GIF/APNG: times the animation repeats; 0 (the default) loops forever, -1 plays once.
    duration : float, optional
        Milliseconds each frame shows (as imageio's pillow plugin takes it for GIF), instead
        of ``fps``.

    Returns
    -------
    bytes or None
        The encoded file for ``"<bytes>"``, else None.

    Raises
    ------
    ValueError
        No frames; an unknown codec (the message lists the available ones); a codec the
        container cannot hold, a pixel format the encoder does not take, ``loop`` out of
        range or on a container that does not loop, ``fps`` above 100 for GIF, ``fps`` and
        ``duration`` both given (each message names the option); a frame whose shape or
        dtype does not fit (float arrays: convert with ``astype(np.uint8)``); a frame whose
        shape differs from the first (the message names its index); an odd size for
        H.264/HEVC in yuv420p; a second frame for a single .png.
    FileNotFoundError
        The folder of ``uri`` does not exist (raised before anything is encoded).
    TypeError
        ``uri`` is a file object that cannot be written.

    Notes
    -----
    If writing fails, no partial file is left behind: a file this call created is removed.
    Ctrl-C (KeyboardInterrupt) instead finalises what was written, as closing a
    :class:`VideoFile` does.
    """
    if duration is not None:
        if fps is not None:
            raise ValueError("give fps or duration, not both")
        if not duration > 0:
            raise ValueError(
                f"duration must be a positive number of milliseconds per frame, not {duration!r}"
            )
        fps = 1000.0 / duration
    fps = 24.0 if fps is None else fps
    to_path = _is_path(uri) and not (isinstance(uri, str) and uri == "<bytes>")
    path = _path(uri) if to_path else ""
    if to_path:
        _check_folder(path)
    ext = extension if extension is not None else os.path.splitext(path)[1]
    if codec is None:
        codec = _default_codec(ext)
    f = VideoFile(path if to_path else uri, "w", extension=extension, loop=loop)
    try:
        with f:
            f.init_video_stream(codec, fps=fps, pixel_format=pixel_format, quality=quality, bitrate=bitrate)
            f.write(frames, fps=fps, in_pixel_format=in_pixel_format, filter=filter, metadata=metadata)
            if f._writer is None or f._writer.frames_written == 0:
                raise ValueError(
                    "no frames to write: imwrite needs at least one frame "
                    "(an (N, H, W, C) array with N > 0, or a non-empty iterable of frames)"
                )
    except Exception:
        # The writer truncated or created the file once it started: leave nothing partial.
        if to_path and f._writer is not None and "%" not in path:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise
    return f.getvalue() if f._target == "<bytes>" else None


def _check_folder(path: str) -> None:
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot write {os.path.basename(path)!r}: the folder does not exist", folder
        )


def improps(
    uri: Source,
    *,
    index: int | EllipsisType = ...,
    format: str | None = "rgb24",
    frame_index: FrameIndexSource = None,
) -> ImageProperties:
    """Shape, dtype and true frame count of a video, without decoding it all."""
    with VideoFile(uri, format=format, frame_index=frame_index) as f:
        return f.properties(index, format=format)


def immeta(
    uri: Source, *, index: int | EllipsisType = ..., frame_index: FrameIndexSource = None
) -> dict[str, Any]:
    """Global metadata of a video (``index=...``) or the metadata of frame ``index``."""
    with VideoFile(uri, frame_index=frame_index) as f:
        return f.metadata(index)
