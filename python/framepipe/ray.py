"""Many videos on Ray: the same code on one machine (``ray.init()``) or a cluster (``ray.init(address="auto")``).

:func:`read_videos` turns video files into a :class:`ray.data.Dataset` of frames through a Ray
Data datasource, with framepipe's exact frame index: ``frame_index`` is the frame's position in
presentation order, what ``framepipe.open(path).read(index=k)`` returns, on VFR, B-frame and
MPEG-TS files alike. Each file is one read task, and a long file is split at keyframes into
several tasks so that one video keeps several workers busy.

:func:`process_videos` runs one Ray task per file: a Python function given a
:class:`framepipe.VideoFile`, or a pipeline description with ``{path}`` and ``{output}``
placeholders (decode ! pyfunc ! fpmetawriter, a transcode, ...).

Bad files among many (missing, corrupt, truncated) never stop the others unless asked to:
``on_error="raise"`` raises framepipe's own exception (``FileNotFoundError``, ``MediaError``,
``PipelineError``; through Ray it is a ``RayTaskError`` subclass that is also an instance of
that type) naming the file, ``"skip"`` leaves the file out, ``"record"`` returns a row saying
what went wrong. Worker processes that die are retried by Ray (``max_retries``).

This module needs Ray (``pip install 'framepipe[ray]'``); ``import framepipe`` never imports it.
"""

from __future__ import annotations

import bisect
import concurrent.futures
import errno
import functools
import glob
import inspect
import itertools
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

try:
    import ray
    import ray.data
    from ray.data.block import Block, BlockAccessor, BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("framepipe.ray needs Ray Data: pip install 'framepipe[ray]'") from e

from .errors import FramepipeError, MediaError
from .io import Filter, VideoFile

__all__ = ["VIDEO_EXTENSIONS", "VideoDatasource", "expand_paths", "process_videos", "read_videos"]

log = logging.getLogger("framepipe.ray")

OnError = Literal["raise", "skip", "record"]

#: File name extensions that directories are searched for.
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg",
        ".flv", ".wmv", ".asf", ".3gp", ".ogv", ".mxf", ".gif", ".y4m", ".h264", ".h265", ".hevc",
    }
)  # fmt: skip

DEFAULT_FRAMES_PER_TASK = 1024
"""A file with more frames to decode than this is split at keyframes into several read tasks."""

_LOCAL_PLAN_FILES = 64
"""Up to this many files are indexed for planning on the driver, more in Ray tasks."""

_BLOCK_BYTES = 128 * 1024 * 1024
"""Size a block of frames passes, when Ray Data's context sets no target block size (its
default is 128 MiB). A smaller block waits in the read task's output buffer for the next ones
and is concatenated with them, one more copy of every frame."""

# (channels-or-None for 2-D frames, dtype) of each output format, for sizing and error rows.
_FORMAT_LAYOUT: dict[str | None, tuple[int | None, str]] = {
    "rgb24": (3, "uint8"),
    "bgr24": (3, "uint8"),
    "rgba": (4, "uint8"),
    "bgra": (4, "uint8"),
    "gray": (None, "uint8"),
    "gray16le": (None, "uint16"),
    "rgb48le": (3, "uint16"),
    "yuv444p": (3, "uint8"),
}


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip", "record"):
        raise ValueError(f"on_error must be 'raise', 'skip' or 'record', not {on_error!r}")


# -- paths ------------------------------------------------------------------------------


def expand_paths(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    extensions: Iterable[str] = VIDEO_EXTENSIONS,
) -> list[str]:
    """Return the files that ``paths`` names, in a stable order.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files (kept even when missing, so that a missing file is reported like any other bad
        input), directories (searched recursively for ``extensions``, sorted) and glob
        patterns (``*``, ``?``, ``[...]``, ``**``; sorted).
    extensions : iterable of str
        Lower-case suffixes with their dot, for directories.

    Raises
    ------
    FileNotFoundError
        Nothing at all was found.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    exts = {e.lower() for e in extensions}
    out: list[str] = []
    for item in items:
        p = os.fspath(item)
        if p.startswith("file://"):
            p = p[len("file://") :]
        if os.path.isdir(p):
            found = [
                os.path.join(root, name)
                for root, _, names in os.walk(p)
                for name in names
                if os.path.splitext(name)[1].lower() in exts
            ]
            out.extend(sorted(found))
        elif glob.has_magic(p):
            out.extend(sorted(f for f in glob.glob(p, recursive=True) if os.path.isfile(f)))
        else:
            out.append(p)
    if not out:
        raise FileNotFoundError(errno.ENOENT, "no video files found in", str(items))
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


# -- errors -----------------------------------------------------------------------------


def _named(e: BaseException, path: str) -> BaseException:
    """``e``, or the same kind of exception with ``path`` in its message, so that an error seen among thousands of files says which file it was."""
    if path in str(e):
        return e
    if isinstance(e, FileNotFoundError):
        return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if isinstance(e, FramepipeError):
        try:
            named = type(e)(f"{path}: {e}")
        except TypeError:  # a subclass with another signature
            pass
        else:
            named.__dict__.update(e.__dict__)
            named.__cause__ = e
            return named
    e.add_note(f"(while processing {path})")
    return e


def _error_fields(e: BaseException) -> tuple[str, str]:
    """(type name, message) of an error, looking through Ray's wrapper to the cause."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException) and isinstance(e, ray.exceptions.RayTaskError):
        e = cause
    return type(e).__name__, str(e)


def _open(path: str, **kwargs: Any) -> VideoFile:
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return VideoFile(path, **kwargs)


# -- sampling and planning ---------------------------------------------------------------

IndicesArg = Sequence[int] | npt.NDArray[np.integer[Any]] | Callable[[int], Iterable[int]] | None


@dataclass(frozen=True)
class _Sampling:
    """Which frames of each file to read: all, every ``step``-th, the given indices, or the frames displayed at the given times."""

    indices: tuple[int, ...] | Callable[[int], Iterable[int]] | None = None
    step: int | None = None
    times: tuple[float, ...] | None = None

    @staticmethod
    def make(indices: IndicesArg, step: int | None, times: Sequence[float] | None) -> _Sampling:
        if sum(x is not None for x in (indices, step, times)) > 1:
            raise ValueError("give at most one of indices, step and times")
        if step is not None and (not isinstance(step, int | np.integer) or step < 1):
            raise ValueError(f"step must be a positive int, not {step!r}")
        if times is not None:
            ts = tuple(float(t) for t in np.atleast_1d(np.asarray(times, dtype=np.float64)))
            if any(not np.isfinite(t) or t < 0 for t in ts):
                raise ValueError("times must be finite and non-negative (seconds from the first frame)")
            return _Sampling(times=ts)
        if indices is not None and not callable(indices):
            idx = tuple(int(k) for k in np.atleast_1d(np.asarray(indices)))
            return _Sampling(indices=idx)
        return _Sampling(indices=indices, step=None if step is None else int(step))

    def select(self, n: int, times: Callable[[], list[float]], duration: float) -> list[int] | range:
        """Return the frame indices of a file of ``n`` frames to read, sorted, each once.

        Indices out of range (after counting negative ones from the end) and times at or after the end of
        the last frame (``duration``) are left out, so one list serves files of different lengths.
        """
        if self.times is not None:
            ft = times()
            end = max(duration, ft[-1]) if ft else 0.0
            picked = {bisect.bisect_right(ft, t) - 1 for t in self.times if t < end or t == ft[-1]}
            return sorted(k for k in picked if 0 <= k < n)
        if self.indices is not None:
            raw = self.indices(n) if callable(self.indices) else self.indices
            ks = {int(k) + n if int(k) < 0 else int(k) for k in raw}
            return sorted(k for k in ks if 0 <= k < n)
        return range(0, n, self.step or 1)


@dataclass(frozen=True)
class _Segment:
    """One read task: frames ``frames`` (sorted) of ``path``; ``None`` means the whole file, decided when the task runs (no planning was done)."""

    path: str
    frames: range | tuple[int, ...] | None
    part: int = 0
    parts: int = 1
    error: tuple[str, str] | None = None  # a file that failed planning, for on_error="record"

    @property
    def rows(self) -> int | None:
        return None if self.frames is None else len(self.frames)


def _frame_table(video: VideoFile) -> tuple[list[int], list[float], list[bool]]:
    """(pts, time, key_frame) of every frame, from the file's index (no decoding).

    framepipe's VideoFile exposes the index one frame at a time (about 1.5 us a frame: 0.2 s
    for an hour at 30 fps), so a table accessor is used when the reader has one.
    """
    table = getattr(video, "frame_table", None)
    if callable(table):
        t = table()
        return list(t["pts"]), list(t["time"]), [bool(k) for k in t["key_frame"]]
    pts: list[int] = []
    times: list[float] = []
    keys: list[bool] = []
    for k in range(len(video)):
        m = video.metadata(index=k)
        pts.append(int(m["pts"] or 0))
        times.append(float(m["time"] or 0.0))
        keys.append(bool(m["key_frame"]))
    return pts, times, keys


def _split(
    selected: range | list[int], keyframes: list[int], n: int, frames_per_task: int
) -> list[range | tuple[int, ...]]:
    """Cut ``selected`` into runs that start on GOP boundaries, each costing about ``frames_per_task`` decoded frames (a GOP is decoded up to the last frame selected in it)."""
    starts = sorted(set(keyframes) | {0})
    parts: list[range | tuple[int, ...]] = []
    current: list[int] = []
    cost = 0
    gop = 0
    i = 0
    sel = list(selected)
    while i < len(sel):
        while gop + 1 < len(starts) and starts[gop + 1] <= sel[i]:
            gop += 1
        gop_end = starts[gop + 1] if gop + 1 < len(starts) else n
        in_gop = []
        while i < len(sel) and sel[i] < gop_end:
            in_gop.append(sel[i])
            i += 1
        if current and cost >= frames_per_task:
            parts.append(_compact(current))
            current, cost = [], 0
        current.extend(in_gop)
        cost += in_gop[-1] - starts[gop] + 1
    if current:
        parts.append(_compact(current))
    return parts


def _compact(ks: list[int]) -> range | tuple[int, ...]:
    """Return a range when the frames are evenly spaced (most reads), else a tuple."""
    if not ks:
        return ()
    if len(ks) == 1:
        return range(ks[0], ks[0] + 1)
    step = ks[1] - ks[0]
    if step > 0 and all(b - a == step for a, b in itertools.pairwise(ks)):
        return range(ks[0], ks[-1] + 1, step)
    return tuple(ks)


def _plan_files(
    paths: list[str], sampling: _Sampling, frames_per_task: int, open_kwargs: dict[str, Any]
) -> list[tuple[str, list[range | tuple[int, ...]] | BaseException, int]]:
    """Index each file (demux only) and cut its frames into read tasks.

    Returns, per file, the list of frame runs or the exception that opening it raised, and the frame size
    in bytes.
    """
    out: list[tuple[str, list[range | tuple[int, ...]] | BaseException, int]] = []
    for path in paths:
        try:
            with _open(path, **open_kwargs) as video:
                n = len(video)
                meta = video.metadata()
                _, ft, keys = _frame_table(video)
                selected = sampling.select(n, ft.copy, float(meta.get("duration") or 0.0))
                keyframes = [k for k, key in enumerate(keys) if key]
                runs = _split(selected, keyframes, n, frames_per_task) if len(selected) else []
                channels, dtype = _FORMAT_LAYOUT.get(open_kwargs.get("format"), (3, "uint8"))
                size = int(meta["width"]) * int(meta["height"]) * (channels or 1) * np.dtype(dtype).itemsize
                out.append((path, runs, size))
        except Exception as e:
            out.append((path, _named(e, path), 0))
    return out


# -- reading ----------------------------------------------------------------------------


def _supports(method: Any, *names: str) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return all(n in params for n in names)


def _decode(
    video: VideoFile, frames: range | tuple[int, ...], options: _ReadOptions
) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """(index, frame) for each of ``frames`` (sorted), through the fastest call the VideoFile has: a contiguous or strided run through ``iter(start, stop, step)``, other selections through ``read_batch``.

    With neither (framepipe before batch reads): a whole file under on_error="raise" through the reader's
    sequential decode, anything else through ``read(index=k)`` one frame after the other, which decodes
    forward without seeking between neighbours (about 10% more CPU than sequential decoding) and returns
    exactly frame k even when a damaged file drops frames.
    """
    if not len(frames):
        return
    kw: dict[str, Any] = {"format": options.format, "filter": options.filter}
    if isinstance(frames, range) and _supports(video.iter, "start", "stop", "step"):
        it = video.iter(start=frames.start, stop=frames.stop, step=frames.step, **kw)
        yield from zip(frames, it, strict=True)
        return
    read_batch = getattr(video, "read_batch", None)
    if callable(read_batch) and (not isinstance(frames, range) or frames.step > 1):
        ks = list(frames)
        for i in range(0, len(ks), 64):
            yield from zip(ks[i : i + 64], read_batch(ks[i : i + 64], **kw), strict=True)
        return
    n = len(video)
    reader = getattr(video, "_reader", None)
    if options.on_error == "raise" and frames == range(0, n) and callable(reader):
        # The whole file, front to back: the reader's own sequential decode, which reports a
        # frame the decoder dropped (MediaError) at the end; on_error="raise" then fails the
        # dataset, so no row can carry a shifted index.
        r = reader(options.format, options.filter, None)  # the file's threads, set at open
        r.rewind()
        k = 0
        while (frame := r.next()) is not None:
            if k >= n:
                raise MediaError(f"{video.path}: more frames decoded than the index has ({n})")
            yield k, frame
            k += 1
        if k != n:
            raise MediaError(f"{video.path}: {n - k} of {n} frames could not be decoded")
        return
    for k in frames:
        yield k, video.read(index=k, **kw)


@functools.cache
def _node_cpu_share() -> float:
    """Return the cores of this node per Ray CPU it offers (2 cores offered as 1 CPU: 2.0).

    1.0 outside Ray or when the node cannot be found.
    """
    try:
        if not ray.is_initialized():
            return 1.0
        node = ray.get_runtime_context().get_node_id()
        offered = next(
            float(n["Resources"].get("CPU", 0))
            for n in ray.nodes()  # type: ignore[no-untyped-call]
            if n.get("NodeID") == node and n.get("Alive")
        )
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    except Exception:  # a worker of an older Ray, a node missing from the table
        return 1.0
    return cores / offered if offered > 0 else 1.0


def _auto_threads() -> int:
    """Return the decoder threads for a read task: the cores its CPU reservation stands for on its node.

    A task reserving 1 of the node's 2 Ray CPUs on 2 cores: 1 thread, so that concurrent tasks do not
    fight over the cores; 1 of 1 Ray CPU on 2 cores: 2.
    """
    if not ray.is_initialized():  # not in a Ray task (asking would start a local Ray)
        return 1
    try:
        assigned = ray.get_runtime_context().get_assigned_resources()  # type: ignore[no-untyped-call]
        reserved = float(assigned.get("CPU", 1.0))
    except Exception:
        reserved = 1.0
    return max(1, round(reserved * _node_cpu_share()))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _CoreClaim:
    """A running read task's claim on one core of its machine, so that each task sees how many others run there.

    Ray Data (2.60) runs a dataset's read tasks one at a time for about the first second of
    every execution, whatever the cluster's size: its executor learns the resources it may
    use from an actor it polls once a second, and starts with none. A node can have idle
    cores at other times too (a dataset's last tasks, fewer read tasks than cores). A task
    that decodes on the cores its CPU reservation stands for leaves them idle then; a task
    that decodes with ``cores / running tasks`` threads uses them, and falls back to its
    share as soon as other tasks start.

    Each running task holds an ``flock`` on one of ``cores`` lock files in a per-user
    folder of the temp dir (the lock goes when the process does, even when it dies), and
    counts the files other processes hold: read tasks of every Ray cluster this user runs on
    this machine, which share its cores. Without ``fcntl`` (Windows) or a writable temp dir
    no task is counted.
    """

    def __init__(self) -> None:
        self.others = 0
        self._fd: int | None = None
        try:
            import fcntl

            folder = os.path.join(tempfile.gettempdir(), f"framepipe-ray-{os.getuid()}")
            os.makedirs(folder, mode=0o700, exist_ok=True)
            for i in range(_cores()):
                fd = os.open(os.path.join(folder, f"core{i}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self.others += 1
                    os.close(fd)
                    continue
                if self._fd is None:
                    self._fd = fd
                else:
                    os.close(fd)  # a free core: closing the file releases its lock
        except (ImportError, OSError, AttributeError):
            self.release()
            self.others = 0

    def threads(self) -> int:
        """Return the decoder threads for this task, at least what its CPU reservation stands for.

        Alone on its machine: one more than the cores, at most 16, as FFmpeg chooses for a whole
        machine (a frame thread keeps decoding while the task converts and copies: 8-10% more
        frames/s than a thread a core in one process here, 4% in a 1-CPU Ray). Beside other read
        tasks: the cores over the tasks.
        """
        cores = _cores()
        share = min(16, cores + 1) if self.others == 0 and cores > 1 else cores // (self.others + 1)
        return max(_auto_threads(), share)

    def cores(self) -> int:
        """Return the cores this task has to itself: the machine's over the read tasks running there, at least what its CPU reservation stands for."""
        return max(_auto_threads(), _cores() // (self.others + 1))

    def release(self) -> None:
        """Give the core back (at the end of the task)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.release()


@dataclass
class _ReadOptions:
    format: str | None
    filter: Filter
    thread_count: int | None  # None: by the cores free when the task starts (_CoreClaim)
    include_paths: bool
    on_error: OnError
    sampling: _Sampling
    block_bytes: int = _BLOCK_BYTES

    def threads(self, claim: _CoreClaim | None = None) -> int:
        if self.thread_count is not None:
            return self.thread_count
        return claim.threads() if claim is not None else _auto_threads()

    def open_kwargs(self, claim: _CoreClaim | None = None) -> dict[str, Any]:
        return {"format": self.format, "filter": self.filter, "thread_count": self.threads(claim)}


def _error_block(path: str, error: tuple[str, str], options: _ReadOptions) -> Block:
    channels, dtype = _FORMAT_LAYOUT.get(options.format, (3, "uint8"))
    shape = (1, 0, 0) if channels is None else (1, 0, 0, 0)
    batch: dict[str, Any] = {
        "frame_index": np.array([-1], np.int64),
        "pts": np.array([-1], np.int64),
        "time": np.array([np.nan]),
        "frame": np.empty(shape, dtype),
        "error_type": np.array([error[0]], dtype=object),
        "error": np.array([error[1]], dtype=object),
    }
    if options.include_paths:
        batch = {"path": np.array([path], dtype=object), **batch}
    return BlockAccessor.batch_to_block(batch)


def _frames_block(
    path: str,
    ks: list[int],
    pts: list[int],
    times: list[float],
    frames: npt.NDArray[Any],
    options: _ReadOptions,
) -> Block:
    n = len(ks)
    batch: dict[str, Any] = {
        "frame_index": np.asarray(ks, np.int64),
        "pts": np.asarray(pts, np.int64),
        "time": np.asarray(times, np.float64),
        "frame": frames,
    }
    if options.include_paths:
        batch = {"path": np.array([path] * n, dtype=object), **batch}
    if options.on_error == "record":
        batch["error_type"] = np.array([None] * n, dtype=object)
        batch["error"] = np.array([None] * n, dtype=object)
    return BlockAccessor.batch_to_block(batch)


class _BlockArrays:
    """The frame arrays of read tasks' blocks, filled again once nothing references them.

    A block just over Ray Data's target size (about 128 MB) in fresh memory is mapped and
    zeroed by the kernel page by page as frames are copied in: writing a 640x360 rgb24 frame
    into new memory costs 0.14-0.27 ms here against 0.03 ms into memory written before, as
    much as a third of decoding it. Ray Data is done with a block soon after the read task's
    generator yields it (merged, mapped, or copied into the object store), and the array's
    reference count shows when: the array then takes the next block, of this task or of the
    next task the worker process runs. An array still referenced (a consumer that keeps the
    block) is left to its user. A worker process keeps at most ``KEEP`` arrays (a few
    hundred MB) between tasks.
    """

    KEEP = 3

    def __init__(self) -> None:
        self._arrays: list[npt.NDArray[Any]] = []
        self.allocated = 0

    def take(self, frame: npt.NDArray[Any], block_bytes: int, frames_left: int) -> npt.NDArray[Any]:
        """Return an array for the next block of frames like ``frame``.

        It has enough rows to pass ``block_bytes`` (Ray Data then passes the block on alone instead of
        concatenating it with the next one); fewer when the task has fewer frames left than that.
        """
        rows = max(1, block_bytes // max(1, frame.nbytes) + 1)
        shape = (min(rows, max(1, frames_left)), *frame.shape)
        for array in self._arrays:
            # Only this list references it (the list, `array` and getrefcount's argument).
            if array.shape[0] >= shape[0] and array.shape[1:] == shape[1:] and array.dtype == frame.dtype:
                if sys.getrefcount(array) <= 3:
                    return array[: shape[0]] if array.shape[0] > shape[0] else array
        # Full size even for a short task: pages never written are never mapped.
        array = np.empty((rows, *frame.shape), frame.dtype)
        self.allocated += 1
        self._arrays = [*self._arrays[-(self.KEEP - 1) :], array]
        return array[: shape[0]] if rows > shape[0] else array


_block_arrays = _BlockArrays()


_RUN_FRAMES = 32
"""GOPs shorter than this are decoded together (each run of GOPs starts with a seek)."""


class _ShapeChanged(Exception):
    """A frame of another shape than the first (a resolution change): decode the rest in order."""


def _gop_runs(frames: range, keys: list[bool]) -> list[tuple[int, int]]:
    """Cut the contiguous ``frames`` into runs [a, b) that start on keyframes (the first at ``frames.start``), at least ``_RUN_FRAMES`` long except the last."""
    runs: list[tuple[int, int]] = []
    a = frames.start
    for k in [*(k for k, key in zip(frames, keys, strict=True) if key and k > frames.start), frames.stop]:
        if k - a >= _RUN_FRAMES or k == frames.stop:
            runs.append((a, k))
            a = k
    return runs


def _parallel_blocks(
    video: VideoFile, path: str, frames: range, options: _ReadOptions, decoders: int
) -> Iterator[Block]:
    """Decode the contiguous ``frames`` on ``decoders`` threads, each a single-threaded decoder taking the next run of whole GOPs, into blocks yielded in order.

    A task alone on a machine gets its cores this way (Ray Data runs one read task at a time for
    about the first second of a dataset, and a 1-CPU Ray on a bigger node runs one all along):
    2 GOP decoders decode 27% more frames/s than one decoder of 3 frame threads here, on about 4% less
    CPU. Each decoder writes its frames straight into the blocks (arrays reused as in
    ``_blocks``); a block is yielded when every frame in it is decoded, and decoders start runs at
    most one block ahead of the one being filled. A run that ends early raises ``MediaError``
    after the blocks before it; a frame of another shape hands the rest of the frames to
    :func:`_blocks`.
    """
    metas = [video.metadata(index=k) for k in frames]
    runs = _gop_runs(frames, [bool(m["key_frame"]) for m in metas])
    opened = video._reader()  # opened with the options' format and filter
    shape_list, dtype_name = opened.frame_shape()
    shape, dtype = tuple(shape_list), np.dtype(dtype_name)
    if len(runs) < 2 or opened.backend != "libav":  # the GStreamer path has no saved index to share
        yield from _blocks(video, path, frames, options)
        return
    decoders = min(decoders, len(runs), 16)
    sample = np.empty(shape, dtype)
    rows = max(1, options.block_bytes // max(1, sample.nbytes) + 1)
    n = len(frames)
    n_blocks = (n + rows - 1) // rows
    # The last run each block needs, and the block each run starts in.
    last_run = [
        max(i for i, (a, _) in enumerate(runs) if a - frames.start < min(n, (b + 1) * rows))
        for b in range(n_blocks)
    ]
    start_block = [(a - frames.start) // rows for a, _ in runs]
    blocks: dict[int, npt.NDArray[Any]] = {}
    lock = threading.Condition()
    state: dict[str, Any] = {"next": 0, "yielded": 0, "stop": False, "error": None, "error_run": len(runs)}
    done = [False] * len(runs)
    index = json.loads(opened.index_json())  # the decoders' own files skip the scan

    def block(b: int) -> npt.NDArray[Any]:
        with lock:
            if b not in blocks:
                blocks[b] = _block_arrays.take(sample, options.block_bytes, n - b * rows)
            return blocks[b]

    def work(j: int) -> None:
        own: VideoFile | None = None
        try:
            own = VideoFile(
                path, format=options.format, filter=options.filter, thread_count=1, frame_index=index
            )
            reader = own._reader()
            while True:
                with lock:
                    # Runs after a failed one are not needed; the ones before it still are.
                    while (
                        not state["stop"]
                        and state["next"] < min(len(runs), state["error_run"])
                        and start_block[state["next"]] > state["yielded"] + 1
                    ):
                        lock.wait()
                    if state["stop"] or state["next"] >= min(len(runs), state["error_run"]):
                        return
                    i = state["next"]
                    state["next"] += 1
                a, b = runs[i]
                try:
                    frame = reader.read(a)
                    for k in range(a, b):
                        if k > a:
                            nxt = reader.next()
                            if nxt is None:
                                raise MediaError(f"{path}: frames {k} to {b - 1} could not be decoded")
                            frame = nxt
                        if frame.shape != shape or frame.dtype != dtype:
                            raise _ShapeChanged(k)
                        pos = k - frames.start
                        block(pos // rows)[pos % rows] = frame
                        if state["stop"] or i > state["error_run"]:
                            return
                except BaseException as e:
                    with lock:
                        if i < state["error_run"]:
                            state["error"], state["error_run"] = e, i
                        lock.notify_all()
                    return
                with lock:
                    done[i] = True
                    lock.notify_all()
        except BaseException as e:  # opening the decoder's file
            with lock:
                state["error"], state["error_run"] = e, 0
                lock.notify_all()
        finally:
            if own is not None:
                own.close()

    threads = [
        threading.Thread(target=work, args=(j,), name=f"framepipe-ray-gop{j}", daemon=True)
        for j in range(decoders)
    ]
    for t in threads:
        t.start()
    resume: int | None = None
    try:
        for b in range(n_blocks):
            with lock:
                while not all(done[: last_run[b] + 1]) and last_run[b] < state["error_run"]:
                    lock.wait()
                if last_run[b] >= state["error_run"]:
                    error = state["error"]
                    if isinstance(error, _ShapeChanged):
                        resume = frames.start + b * rows
                        break
                    raise error
                array = blocks.pop(b)
            lo, hi = b * rows, min(n, (b + 1) * rows)
            ks = list(frames[lo:hi])
            ms = metas[lo:hi]
            block_ = _frames_block(
                path,
                ks,
                [int(m["pts"] or 0) for m in ms],
                [float(m["time"] or 0.0) for m in ms],
                array[: hi - lo],
                options,
            )
            del array
            yield block_
            with lock:
                state["yielded"] = b + 1
                lock.notify_all()
    finally:
        with lock:
            state["stop"] = True
            lock.notify_all()
        for t in threads:
            t.join()
    if resume is not None:
        yield from _blocks(video, path, range(resume, frames.stop), options)


def _blocks(
    video: VideoFile, path: str, frames: range | tuple[int, ...], options: _ReadOptions
) -> Iterator[Block]:
    """Decode ``frames`` of ``video`` (the file ``path``) in order into blocks of just over ``block_bytes``."""
    left = len(frames)
    buf: npt.NDArray[Any] | None = None
    ks: list[int] = []
    pts: list[int] = []
    times: list[float] = []
    for k, frame in _decode(video, frames, options):
        if buf is None or buf.shape[1:] != frame.shape:
            if buf is not None and ks:
                yield _frames_block(path, ks, pts, times, buf[: len(ks)], options)
                ks, pts, times = [], [], []
            buf = _block_arrays.take(frame, options.block_bytes, left)
        buf[len(ks)] = frame
        left -= 1
        m = video.metadata(index=k)
        ks.append(k)
        pts.append(int(m["pts"] or 0))
        times.append(float(m["time"] or 0.0))
        if len(ks) == len(buf):
            yield _frames_block(path, ks, pts, times, buf, options)
            buf, ks, pts, times = None, [], [], []
    if buf is not None and ks:
        yield _frames_block(path, ks, pts, times, buf[: len(ks)], options)


def _read_segment(segment: _Segment, options: _ReadOptions) -> Iterator[Block]:
    """Return the read task: decode the segment's frames into blocks of just over ``block_bytes``.

    A contiguous run of frames without a filter, in a task that has two or more of its machine's
    cores to itself (a task alone, or a 1-CPU Ray on 2 cores), is decoded by
    :func:`_parallel_blocks`.
    """
    path = segment.path
    if segment.error is not None:
        yield _error_block(path, segment.error, options)
        return
    claim = _CoreClaim() if options.thread_count is None else None
    try:
        with _open(path, **options.open_kwargs(claim)) as video:
            frames = segment.frames
            if frames is None:
                n = len(video)
                duration = float(video.metadata().get("duration") or 0.0)
                selected = options.sampling.select(n, lambda: _frame_table(video)[1], duration)
                frames = selected if isinstance(selected, range) else _compact(selected)
            decoders = claim.cores() if claim is not None else 1
            # A filter may keep state from frame to frame (tmix, yadif): one decoder then.
            if (
                isinstance(frames, range)
                and frames.step == 1
                and len(frames) >= 2 * _RUN_FRAMES
                and decoders > 1
                and options.filter is None
            ):
                yield from _parallel_blocks(video, path, frames, options, decoders)
            else:
                yield from _blocks(video, path, frames, options)
    except Exception as e:
        named = _named(e, path)
        if options.on_error == "raise":
            raise named from None
        log.warning("framepipe.ray: %s: %s: %s", path, type(named).__name__, named)
        if options.on_error == "record":
            yield _error_block(path, _error_fields(named), options)
    finally:
        if claim is not None:
            claim.release()


class VideoDatasource(Datasource):
    """A Ray Data datasource over video files, read with framepipe (see :func:`read_videos`)."""

    def __init__(self, segments: list[_Segment], options: _ReadOptions, frame_bytes: dict[str, int]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._segments = segments
        self._options = options
        self._frame_bytes = frame_bytes

    def get_name(self) -> str:
        """Return the datasource's name in Ray's progress output."""
        return "FramepipeVideo"

    def estimate_inmemory_data_size(self) -> int | None:
        """Return the decoded size of all frames in bytes, or None while some file's frame size is unknown."""
        sizes = [(s.rows, self._frame_bytes.get(s.path)) for s in self._segments]
        if any(r is None or b is None for r, b in sizes):
            return None
        return sum(r * b for r, b in sizes if r is not None and b is not None)

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        # The tasks are the planned segments whatever `parallelism` asks: a task is a file or
        # a run of whole GOPs, which is what decodes efficiently.
        """Return one read task per run of whole GOPs, about ``parallelism`` in all."""
        options = self._options
        tasks = []
        for segment in self._segments:
            size = self._frame_bytes.get(segment.path)
            rows = segment.rows
            metadata = BlockMetadata(
                num_rows=rows,
                size_bytes=None if rows is None or size is None else rows * size,
                input_files=(segment.path,),
                exec_stats=None,
            )
            read = functools.partial(_read_segment, segment, options)
            tasks.append(ReadTask(read, metadata, per_task_row_limit=per_task_row_limit))
        return tasks


def read_videos(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    format: str | None = "rgb24",
    filter: Filter = None,
    indices: IndicesArg = None,
    step: int | None = None,
    times: Sequence[float] | None = None,
    include_paths: bool = True,
    on_error: OnError = "raise",
    frames_per_task: int | None = DEFAULT_FRAMES_PER_TASK,
    thread_count: int | None = None,
    num_cpus: float | None = None,
    max_retries: int | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> ray.data.Dataset:
    """Video frames as a Ray Dataset, read by framepipe on the cluster.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files, directories (searched recursively for video extensions) and glob patterns.
    format : str or None
        Pixel format of ``frame`` ("rgb24", "bgr24", "rgba", "gray", ...; see
        :func:`framepipe.imread`).
    filter : str or sequence, optional
        A per-frame filter applied after decoding (a GStreamer fragment or FFmpeg-style
        ``[("scale", "320:180")]``); it must keep one output frame per input frame.
    indices : sequence of int or callable, optional
        Frames to read from each file; negative ones count from the end, ones a file does not
        have are left out for that file. A callable gets the file's frame count and returns
        the indices (``lambda n: np.linspace(0, n - 1, 8).astype(int)``).
    step : int, optional
        Read every ``step``-th frame (0, step, 2*step, ...).
    times : sequence of float, optional
        Read the frame displayed at each time (seconds from the first frame); times after a
        file's last frame are left out for that file.
    include_paths : bool
        Add the ``path`` column.
    on_error : {"raise", "skip", "record"}
        What a file that cannot be read does. ``"raise"``: the dataset fails with framepipe's
        exception naming the file (``FileNotFoundError``, ``MediaError``), at once for a file
        that cannot be opened, when its frames are read for one that fails part-way.
        ``"skip"``: it is left out (logged as a warning). ``"record"``: it gives a row whose
        ``error_type`` and ``error`` columns say what happened (``frame_index`` -1, an empty
        ``frame``); those columns are None on every other row. A file that fails part-way
        keeps the frames decoded before the failure, in both modes.
    frames_per_task : int or None
        A file with more frames to decode than this is split at keyframes into several read
        tasks of about this many decoded frames. None: one task per file and no planning.
    thread_count : int or None
        Decoder threads per task. None: the node's cores over the framepipe read tasks
        running on it when the task starts (one more than the cores, at most 16, for a task
        alone), and at least the cores the task's CPU reservation stands for (``num_cpus``
        times the node's cores over the Ray CPUs it offers). A task alone on a node uses all
        of it (Ray Data runs a dataset's read tasks one at a time for about its first
        second), tasks side by side share the cores without fighting over them. 0 lets the
        decoder choose.
    num_cpus : float, optional
        CPUs Ray reserves for each read task (Ray Data's default is 1).
    max_retries : int or None
        How many times Ray reruns a read task whose worker process died. None: Ray Data's
        default for its tasks (rerun until it succeeds).
    ray_remote_args : dict, optional
        More options for the read tasks (``memory``, ``resources``, ...).

        Ray Data runs the read and a following ``map_batches`` in one task (the frames never
        go through the object store in between) only when both have the same options: with
        ``num_cpus``, ``max_retries`` or ``ray_remote_args`` here, give the map the same.

    Returns
    -------
    ray.data.Dataset
        One row per frame: ``path`` (str), ``frame_index`` (int, exact), ``pts`` (int ns, as
        demuxed), ``time`` (float s from the first frame), ``frame`` (array). The frames of a
        file come in frame order within each read task; across tasks Ray Data keeps order
        only with ``ds.context.execution_options.preserve_order = True``.

    Notes
    -----
    Planning (``frames_per_task`` not None) indexes every file once, demuxing only, in Ray
    tasks spread over the cluster, before this returns: that is how a file's frame count and
    keyframes are known exactly. A file that cannot be opened is found then.
    """
    _check_on_error(on_error)
    sampling = _Sampling.make(indices, step, times)
    files = expand_paths(paths)
    target = ray.data.DataContext.get_current().target_max_block_size
    options = _ReadOptions(
        format=format,
        filter=filter,
        thread_count=thread_count,
        include_paths=include_paths,
        on_error=on_error,
        sampling=sampling,
        block_bytes=int(target) if target else _BLOCK_BYTES,
    )
    segments: list[_Segment] = []
    frame_bytes: dict[str, int] = {}
    if frames_per_task is None:
        segments = [_Segment(path, None) for path in files]
    else:
        if frames_per_task < 1:
            raise ValueError("frames_per_task must be positive (or None for one task per file)")
        plan_kwargs = {"format": format, "filter": filter, "thread_count": 1}  # demuxing only
        for path, runs, size in _plan_remote(files, sampling, frames_per_task, plan_kwargs):
            if isinstance(runs, BaseException):
                if on_error == "raise":
                    raise runs
                log.warning("framepipe.ray: %s: %s: %s", path, type(runs).__name__, runs)
                if on_error == "record":
                    segments.append(_Segment(path, (), error=_error_fields(runs)))
                continue
            frame_bytes[path] = size
            segments.extend(_Segment(path, r, part, len(runs)) for part, r in enumerate(runs))
    # Only what the caller asked for: Ray Data fuses the read with the map_batches that
    # follows only when both have the same remote options, so a default option here would
    # cost every pipeline a round trip of its frames through the object store.
    remote_args = dict(ray_remote_args or {})
    if max_retries is not None:
        remote_args["max_retries"] = max_retries
    dataset: ray.data.Dataset = ray.data.read_datasource(
        VideoDatasource(segments, options, frame_bytes),
        override_num_blocks=max(1, len(segments)),
        num_cpus=num_cpus,
        **({"ray_remote_args": remote_args} if remote_args else {}),
    )
    return dataset


def _plan_remote(
    files: list[str], sampling: _Sampling, frames_per_task: int, open_kwargs: dict[str, Any]
) -> list[tuple[str, list[range | tuple[int, ...]] | BaseException, int]]:
    """:func:`_plan_files` over the cluster, in about four chunks of files per CPU; a few files are indexed on the driver's threads instead (indexing releases the GIL), which saves starting Ray tasks for them."""
    if len(files) <= _LOCAL_PLAN_FILES:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(files))) as pool:
            parts = pool.map(lambda p: _plan_files([p], sampling, frames_per_task, open_kwargs)[0], files)
            return list(parts)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
    chunks = max(1, min(len(files), 4 * cpus))
    plan = ray.remote(num_cpus=0.5, max_retries=3)(_plan_files)
    refs = [
        plan.remote(files[i::chunks], sampling, frames_per_task, open_kwargs)  # interleaved: even chunks
        for i in range(chunks)
    ]
    by_path = {path: item for part in ray.get(refs) for item in part for path in [item[0]]}
    return [by_path[path] for path in files]


# -- processing -------------------------------------------------------------------------


def _quote(path: str) -> str:
    """Return a path as a value in a pipeline description."""
    if all(c.isalnum() or c in "/._-+,:@%=" for c in path):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fill(description: str, path: str, output: str | None) -> str:
    """Return the description with ``{path}`` and ``{output}`` replaced (quoted where needed)."""
    for key, value in (("path", path), ("output", output or "")):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        description = description.replace(f'"{{{key}}}"', f'"{escaped}"')
        description = description.replace(f"{{{key}}}", _quote(value))
    return description


def _output_path(path: str, output_dir: str | None, output_name: str) -> str | None:
    if output_dir is None:
        return None
    base = os.path.basename(path)
    stem, ext = os.path.splitext(base)
    return os.path.join(output_dir, output_name.format(stem=stem, name=base, ext=ext))


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _run_pipeline(p: Any, path: str, timeout: float | None, stall: float | None) -> int:
    """Play ``p`` to the end of the stream; the number of buffers that reached its sinks.

    With GStreamer 1.22, a truncated MP4 through decodebin sometimes (about 1 run in 10 here)
    drops the pipeline back to READY during preroll without any ERROR on the bus, and
    waiting for the end of the stream would never return; Python cannot tell that from a
    slow preroll (the pending state is not exposed), so a pipeline whose sinks get nothing
    for ``stall`` seconds raises TimeoutError.
    """
    start = last_change = time.monotonic()
    with p:
        last = p.buffers_counted()  # start counting what reaches the sinks
        p.play()
        while not p.wait(0.25):
            now = time.monotonic()
            n = p.buffers_counted()
            if n != last:
                last, last_change = n, now
            elif stall is not None and now - last_change > stall:
                raise TimeoutError(f"{path}: the pipeline made no progress for {stall:g} s")
            if timeout is not None and now - start > timeout:
                raise TimeoutError(f"{path}: the pipeline did not finish within {timeout:g} s")
        counted: int = p.buffers_counted()
        return counted


def _process_one(
    path: str,
    fn_or_pipeline: str | Callable[..., Any],
    output: str | None,
    on_error: OnError,
    timeout: float | None,
    stall: float | None,
    open_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Return the per-file task of :func:`process_videos`."""
    from .pipeline import Pipeline

    start = time.perf_counter()
    record: dict[str, Any] = {
        "path": path,
        "ok": True,
        "output": output,
        "frames": None,
        "records": None,
        "result": None,
        "seconds": 0.0,
        "error_type": None,
        "error": None,
    }
    try:
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        if output is not None:
            os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        if isinstance(fn_or_pipeline, str):
            record["frames"] = _run_pipeline(
                Pipeline(_fill(fn_or_pipeline, path, output)), path, timeout, stall
            )
        else:
            with VideoFile(path, **open_kwargs) as video:
                record["frames"] = len(video)
                args = (video,) if output is None else (video, output)
                record["result"] = fn_or_pipeline(*args)
        if output is not None and os.path.exists(output) and output.endswith((".jsonl", ".ndjson")):
            record["records"] = _count_lines(output)
    except Exception as e:
        named = _named(e, path)
        if on_error == "raise":
            raise named from None
        record.update(ok=False, error_type=type(named).__name__, error=str(named))
    record["seconds"] = time.perf_counter() - start
    return record


def process_videos(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    fn_or_pipeline: str | Callable[..., Any],
    *,
    on_error: OnError = "raise",
    num_cpus: float = 1,
    output_dir: str | os.PathLike[str] | None = None,
    output_name: str = "{stem}.jsonl",
    timeout: float | None = None,
    stall_timeout: float | None = 60.0,
    max_retries: int = 3,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
    open_kwargs: dict[str, Any] | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run one Ray task per video file and return what each did.

    Parameters
    ----------
    paths : str, path-like or iterable of them
        Files, directories and glob patterns (see :func:`expand_paths`).
    fn_or_pipeline : str or callable
        A pipeline description with ``{path}`` (the input file) and ``{output}`` (the file to
        write, from ``output_dir`` and ``output_name``) placeholders, e.g.
        ``"filesrc location={path} ! decodebin ! videoconvert ! video/x-raw,format=RGB !
        pyfunc module=/abs/det.py ! fpmetawriter location={output} ! fakesink"``; it runs to
        the end of the stream. Or a function called with the open :class:`framepipe.VideoFile`
        (and the output path as a second argument when ``output_dir`` is given); its return
        value, which must pickle, is the record's ``result``. Files named in a description
        (``module=``) must exist on every node: give absolute paths.
    on_error : {"raise", "skip", "record"}
        ``"raise"``: the first failing file raises its exception (framepipe's
        ``FileNotFoundError``, ``MediaError``, ``PipelineError``, or what the function
        raised, as a ``RayTaskError`` that is also an instance of it, naming the file) and the
        other tasks are cancelled. ``"skip"``: failed files are left out of the result.
        ``"record"``: they are in it with ``ok`` False.
    num_cpus : float
        CPUs Ray reserves for each task (a decoder with several threads may want 2 or more).
    output_dir : str or path-like, optional
        Where ``{output}`` goes (created when missing).
    output_name : str
        The output file name, formatted with ``stem``, ``name`` and ``ext`` of the input.
        Two inputs that would write the same output raise ValueError before anything runs.
    timeout : float, optional
        Seconds each pipeline may run (``TimeoutError`` after).
    stall_timeout : float or None
        A pipeline whose sinks receive nothing for this many seconds fails with
        ``TimeoutError`` (GStreamer 1.22 can lose an ERROR posted during preroll and wait
        forever).
    max_retries : int
        How many times Ray reruns a task whose worker process died.
    progress : callable, optional
        Called on the driver as ``progress(record, done, total)`` when each file finishes.
    open_kwargs : dict, optional
        Keyword arguments for :class:`framepipe.VideoFile` (function mode).
    ray_remote_args : dict, optional
        More ``ray.remote`` options for the tasks (``memory``, ``resources``, ...).

    Returns
    -------
    list of dict
        One record per file, in the order of ``paths`` (a list rather than a Dataset: one
        small record per file, complete when this returns, with the typed error raised as
        soon as a file fails; ``ray.data.from_items(records)`` makes it a Dataset). Keys:
        ``path``, ``ok``, ``output``, ``frames`` (buffers that reached the sinks for a
        pipeline, the exact frame count for a function), ``records`` (lines of a JSON Lines
        output), ``result``, ``seconds`` (time in the task), ``error_type``, ``error``.
    """
    _check_on_error(on_error)
    files = expand_paths(paths)
    if not isinstance(fn_or_pipeline, str) and not callable(fn_or_pipeline):
        raise TypeError("fn_or_pipeline must be a pipeline description or a callable")
    out_dir = None if output_dir is None else os.fspath(output_dir)
    outputs = [_output_path(p, out_dir, output_name) for p in files]
    if out_dir is not None:
        clash = sorted({o for o in outputs if o is not None and outputs.count(o) > 1})
        if clash:
            raise ValueError(f"several inputs would write {clash[0]}: put {{name}} or more in output_name")
    elif isinstance(fn_or_pipeline, str) and "{output}" in fn_or_pipeline:
        raise ValueError("the pipeline writes {output}: give output_dir")
    options = {"num_cpus": num_cpus, "max_retries": max_retries, **(ray_remote_args or {})}
    task = ray.remote(_process_one).options(**options)
    kwargs = open_kwargs or {}
    refs = [
        task.remote(p, fn_or_pipeline, o, on_error, timeout, stall_timeout, kwargs)
        for p, o in zip(files, outputs, strict=True)
    ]
    position = {ref: i for i, ref in enumerate(refs)}
    results: list[dict[str, Any] | None] = [None] * len(refs)
    pending = list(refs)
    done_count = 0
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in done:
                i = position[ref]
                try:
                    record: dict[str, Any] = ray.get(ref)
                except Exception as e:
                    if on_error == "raise":
                        raise
                    # The task itself failed (its worker died more than max_retries times).
                    error_type, message = _error_fields(e)
                    record = {
                        "path": files[i],
                        "ok": False,
                        "output": outputs[i],
                        "frames": None,
                        "records": None,
                        "result": None,
                        "seconds": None,
                        "error_type": error_type,
                        "error": message,
                    }
                results[i] = record
                done_count += 1
                if progress is not None:
                    progress(record, done_count, len(refs))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=False)
        raise
    return [r for r in results if r is not None and (r["ok"] or on_error == "record")]
