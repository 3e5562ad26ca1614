r"""Colour against FFmpeg: for clips this file makes with the ``ffmpeg`` CLI (every range, matrix tag, bit depth, chroma layout, odd size and codec named in issue 11), framepipe's rgb24 of frame k must match ``ffmpeg -i clip -vf select=eq(n\,k) -pix_fmt rgb24`` of the same frame: mean absolute difference <= 1.0 level and 99th percentile <= 4 levels.

FFmpeg's convention is the one PyAV, torchcodec and OpenCV share (and so the models trained on their
frames): tags honoured, untagged streams treated as BT.601 whatever their size.

The GStreamer reader failed 33 of these cases (full range ignored, untagged HD taken as
BT.709, 10-bit and odd-size chroma off by up to 250 levels); the libav reader, which
converts with swscale as FFmpeg does, passes them all.

Also the MP4 whose edit list starts after the media (qtdemux: "This file contains no
playable streams"), which FFmpeg plays: framepipe must give every frame ffprobe counts.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest

pytestmark = pytest.mark.slow  # ~40 tiny encodes; about 10 s of CPU in all

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"
FRAME = 1  # the frame compared: the second, so that it is not the keyframe on most codecs
MAX_MEAN = 1.0
MAX_P99 = 4.0

# Tags as ffmpeg's -colorspace/-color_primaries/-color_trc names, per matrix.
TAGS = {
    "601": ("smpte170m", "smpte170m", "smpte170m"),
    "709": ("bt709", "bt709", "bt709"),
    "2020": ("bt2020nc", "bt2020", "bt2020-10"),
}
# The matrix swscale uses to make the content (out_color_matrix names).
SCALE_MATRIX = {"601": "bt601", "709": "bt709", "2020": "bt2020"}

ENCODERS = {
    "h264": ("mp4", ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "4"]),
    "hevc": ("mp4", ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:bframes=2"]),
    "vp8": ("webm", ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]),
    "vp9": ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]),
    "av1": ("mkv", ["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-crf", "30"]),
    "mpeg2": ("ts", ["-c:v", "mpeg2video", "-q:v", "3", "-bf", "2", "-g", "4"]),
    "mpeg4": ("mp4", ["-c:v", "mpeg4", "-q:v", "3", "-bf", "1", "-g", "4"]),
    "mjpeg": ("avi", ["-c:v", "mjpeg", "-q:v", "3"]),
}


@dataclass(frozen=True)
class Case:
    id: str
    codec: str
    pix_fmt: str
    size: tuple[int, int] = (176, 144)
    matrix: str | None = None  # None: untagged (content made with BT.601, FFmpeg's default)
    full_range: bool = False
    frames: int = 3

    def encode_args(self) -> list[str]:
        w, h = self.size
        matrix = SCALE_MATRIX[self.matrix or "601"]
        # testsrc2 rounds sizes to even: make it even, crop to the odd size.
        out_range = "full" if self.full_range else "limited"
        # Noise on R, G and B moves the chroma planes too, so that matrix, range and chroma
        # siting all show in the comparison.
        vf = (
            f"format=gbrp,crop={w}:{h}:0:0,noise=alls=24:allf=t+u,"
            f"scale=out_color_matrix={matrix}:out_range={out_range},format={self.pix_fmt}"
        )
        codec_args = ENCODERS[self.codec][1]
        args = [
            "-f", "lavfi", "-i", f"testsrc2=size={w + w % 2}x{h + h % 2}:rate=10",
            "-frames:v", str(self.frames), "-vf", vf, *codec_args,
        ]  # fmt: skip
        if self.matrix is not None:
            space, primaries, trc = TAGS[self.matrix]
            args += ["-colorspace", space, "-color_primaries", primaries, "-color_trc", trc]
        if self.full_range or self.matrix is not None:
            args += ["-color_range", "pc" if self.full_range else "tv"]
        return args

    @property
    def ext(self) -> str:
        return ENCODERS[self.codec][0]


ODD = (175, 143)
HD = (1280, 720)

CASES = [
    # range x matrix tags, H.264 4:2:0 8-bit
    Case("h264-bt601-limited", "h264", "yuv420p", matrix="601"),
    Case("h264-bt709-limited", "h264", "yuv420p", matrix="709"),
    Case("h264-bt2020-limited", "h264", "yuv420p", matrix="2020"),
    Case("h264-bt601-full", "h264", "yuv420p", matrix="601", full_range=True),
    Case("h264-bt709-full", "h264", "yuv420p", matrix="709", full_range=True),
    Case("h264-bt2020-full", "h264", "yuv420p", matrix="2020", full_range=True),
    # untagged: FFmpeg takes BT.601 limited whatever the size
    Case("h264-untagged-sd", "h264", "yuv420p"),
    Case("h264-untagged-hd", "h264", "yuv420p", size=HD, frames=2),
    Case("h264-bt709-hd", "h264", "yuv420p", size=HD, frames=2, matrix="709"),
    # chroma layouts and bit depths
    Case("h264-yuv422p", "h264", "yuv422p", matrix="709"),
    Case("h264-yuv444p", "h264", "yuv444p", matrix="709"),
    Case("h264-yuv420p10", "h264", "yuv420p10le", matrix="709"),
    Case("h264-yuv422p10", "h264", "yuv422p10le", matrix="709"),
    Case("h264-yuv444p10", "h264", "yuv444p10le", matrix="709"),
    Case("h264-yuv420p10-untagged", "h264", "yuv420p10le"),
    # odd sizes (libx264 takes odd sizes in 4:4:4 only)
    Case("h264-odd-yuv444p", "h264", "yuv444p", size=ODD),
    # HEVC
    Case("hevc-yuv420p", "hevc", "yuv420p", matrix="709"),
    Case("hevc-yuv420p10-bt2020", "hevc", "yuv420p10le", matrix="2020"),
    Case("hevc-yuv422p10", "hevc", "yuv422p10le", matrix="709"),
    Case("hevc-yuv444p", "hevc", "yuv444p", matrix="709"),
    Case("hevc-full", "hevc", "yuv420p", matrix="709", full_range=True),
    # VP8, VP9
    Case("vp8-untagged", "vp8", "yuv420p"),
    Case("vp8-odd", "vp8", "yuv420p", size=ODD),
    Case("vp9-yuv420p", "vp9", "yuv420p", matrix="709"),
    Case("vp9-full", "vp9", "yuv420p", matrix="709", full_range=True),
    Case("vp9-yuv444p", "vp9", "yuv444p", matrix="709"),
    Case("vp9-yuv420p10", "vp9", "yuv420p10le", matrix="709"),
    Case("vp9-odd", "vp9", "yuv420p", size=ODD),
    # AV1
    Case("av1-yuv420p", "av1", "yuv420p", matrix="709"),
    Case("av1-yuv420p10", "av1", "yuv420p10le", matrix="709"),
    Case("av1-odd", "av1", "yuv420p", size=ODD),
    # MPEG-2, MPEG-4 Part 2
    Case("mpeg2-yuv420p", "mpeg2", "yuv420p", matrix="601"),
    Case("mpeg2-yuv422p", "mpeg2", "yuv422p", matrix="709"),
    Case("mpeg2-odd", "mpeg2", "yuv420p", size=ODD),
    Case("mpeg4-untagged", "mpeg4", "yuv420p"),
    Case("mpeg4-odd", "mpeg4", "yuv420p", size=ODD),
    # MJPEG: JFIF is full-range BT.601
    Case("mjpeg-yuvj420p", "mjpeg", "yuvj420p"),
    Case("mjpeg-yuvj422p", "mjpeg", "yuvj422p"),
    Case("mjpeg-yuvj444p", "mjpeg", "yuvj444p"),
    Case("mjpeg-odd", "mjpeg", "yuvj420p", size=ODD),
]


def _ffmpeg(*args: str) -> bytes:
    r = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed:\n{r.stderr.decode(errors='replace')}")
    return r.stdout


def ffmpeg_rgb24(path: Path, k: int, size: tuple[int, int]) -> np.ndarray:
    """Frame k as the ffmpeg CLI converts it to rgb24 (its own swscale defaults)."""
    raw = _ffmpeg(
        "-i", str(path), "-vf", f"select=eq(n\\,{k})", "-fps_mode", "passthrough",
        "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
    )  # fmt: skip
    w, h = size
    assert len(raw) == w * h * 3, f"ffmpeg gave {len(raw)} bytes for frame {k}, expected {w}x{h}x3"
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


class Corpus:
    """The clips and FFmpeg's reference frames, made once per session, in parallel (each ffmpeg run is short; on a busy machine the runs mostly wait for a core)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clips: dict[str, Path] = {}
        self.references: dict[str, np.ndarray] = {}

    def _make(self, case: Case) -> None:
        path = self.root / f"{case.id}.{case.ext}"
        _ffmpeg(*case.encode_args(), str(path))
        self.references[case.id] = ffmpeg_rgb24(path, FRAME, case.size)
        self.clips[case.id] = path

    def prepare(self, cases: list[Case]) -> None:
        todo = [c for c in cases if c.id not in self.clips]
        with ThreadPoolExecutor(max_workers=4) as pool:
            for f in [pool.submit(self._make, c) for c in todo]:
                f.result()


@pytest.fixture(scope="session")
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    c = Corpus(tmp_path_factory.mktemp("colour"))
    # Only the cases this session runs (-k, node ids).
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "callspec", None) is not None and isinstance(item.callspec.params.get("case"), Case)
    ]
    c.prepare(selected)
    return c


def _params() -> list[object]:
    return [pytest.param(case, id=case.id) for case in CASES]


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(d.mean()), float(np.percentile(d, 99)), int(d.max())


@pytest.mark.parametrize("case", _params())
def test_rgb24_matches_ffmpeg(corpus: Corpus, case: Case) -> None:
    corpus.prepare([case])
    path, expected = corpus.clips[case.id], corpus.references[case.id]
    got = fp.imread(path, index=FRAME)
    assert got.shape == expected.shape
    mean, p99, worst = difference(got, expected)
    assert mean <= MAX_MEAN and p99 <= MAX_P99, (
        f"{case.id}: |framepipe - ffmpeg| mean {mean:.2f}, p99 {p99:.0f}, max {worst} levels"
    )


def ffprobe_count(path: Path) -> int:
    args = "-v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0"
    r = subprocess.run(
        [FFPROBE, *args.split(), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(r.stdout.strip())


@pytest.fixture(scope="module")
def late_edit_list_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 frames (1 s) behind an empty edit of 5 s: the edit that maps the media starts after the media's own duration.

    FFmpeg plays it; qtdemux (GStreamer 1.22) posts "This file contains no playable streams".
    """
    d = tmp_path_factory.mktemp("editlist")
    base = d / "base.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-frames:v", "10",
        "-c:v", "libx264", "-bf", "2", "-pix_fmt", "yuv420p", str(base),
    )  # fmt: skip
    late = d / "late_edit_list.mp4"
    _ffmpeg("-itsoffset", "5", "-i", str(base), "-c", "copy", str(late))
    return late


def test_late_edit_list_mp4_opens_with_ffprobes_count(late_edit_list_mp4: Path) -> None:
    n = ffprobe_count(late_edit_list_mp4)
    assert n == 10
    with fp.open(late_edit_list_mp4) as f:
        assert len(f) == n
        frames = f.read(index=...)
    assert frames.shape == (n, 64, 96, 3)
    expected = ffmpeg_rgb24(late_edit_list_mp4, n - 1, (96, 64))
    mean, p99, worst = difference(frames[n - 1], expected)
    assert mean <= MAX_MEAN and p99 <= MAX_P99, f"last frame: mean {mean:.2f}, p99 {p99:.0f}, max {worst}"
