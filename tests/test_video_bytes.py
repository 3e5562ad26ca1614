"""Videos as bytes and file objects.

``imread(bytes)``, ``open(file_object)``, ``imwrite("<bytes>", ..., extension=...)`` returning the file,
writing into seekable and unseekable file objects (through AVIO callbacks, no temporary file), and the
error types of bad sources.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import framepipe as fp
import numpy as np
import pytest

from .conftest import run_python

H, W, N = 48, 64, 12


def frames(n: int = N) -> np.ndarray:
    out = np.zeros((n, H, W, 3), np.uint8)
    for k in range(n):
        out[k] = 20 + 15 * k
        out[k, :, (5 * k) % W :] = (200, 40, 90)
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bytes") / "clip.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25:duration=0.8"),
            *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path


class Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek (a pipe, a socket)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.chunks.append(bytes(b))
        return len(b)


def test_imread_bytes_equals_file(clip: Path) -> None:
    data = clip.read_bytes()
    np.testing.assert_array_equal(fp.imread(data), fp.imread(clip))
    np.testing.assert_array_equal(fp.imread(bytearray(data), index=7), fp.imread(clip, index=7))
    assert fp.improps(data).n_images == 20
    assert fp.immeta(memoryview(data))["n_frames"] == 20


def test_open_file_object(clip: Path) -> None:
    with clip.open("rb") as fobj, fp.open(fobj) as f:
        assert len(f) == 20
        np.testing.assert_array_equal(f.read(index=3), fp.imread(clip, index=3))
    with fp.open(io.BytesIO(clip.read_bytes())) as f:
        assert f.read(index=...).shape == (20, H, W, 3)


def test_bytes_source_leaves_no_file(clip: Path) -> None:
    """The bytes live in an anonymous in-memory file, closed with the VideoFile."""
    before = set(os.listdir(tempfile.gettempdir()))
    f = fp.open(clip.read_bytes())
    path = f.path
    assert path.startswith("/proc/self/fd/")
    f.read(index=0)
    f.close()
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_two_byte_sources_of_equal_size_do_not_share_an_index() -> None:
    """Frame-index caches key on path, size and mtime: in-memory files must not collide."""
    a = fp.imwrite("<bytes>", frames(6), extension=".mkv", codec="png")
    other = frames(6)
    other[:, :, :] = 255 - other
    b = fp.imwrite("<bytes>", other, extension=".mkv", codec="png")
    assert a is not None and b is not None
    np.testing.assert_array_equal(fp.imread(a), frames(6))
    np.testing.assert_array_equal(fp.imread(b), other)


@pytest.mark.parametrize(
    ("ext", "codec"), [(".mp4", "h264"), (".mkv", "h264"), (".gif", None), (".webm", "vp8")]
)
def test_imwrite_bytes_round_trip(ext: str, codec: str | None) -> None:
    data = fp.imwrite("<bytes>", frames(), extension=ext, fps=25, **({"codec": codec} if codec else {}))
    assert isinstance(data, bytes) and len(data) > 100
    back = fp.imread(data)
    assert back.shape == (N, H, W, 3)
    assert np.abs(back.astype(int) - frames()).mean() < 8


def test_imwrite_bytes_mp4_is_a_plain_mp4() -> None:
    """Write an MP4 to bytes (seekable): it gets its index patched in, as a file would.

    Moov present, not fragmented.
    """
    data = fp.imwrite("<bytes>", frames(), extension=".mp4")
    assert data is not None
    assert b"moov" in data and b"moof" not in data


def test_write_into_seekable_file_object(tmp_path: Path) -> None:
    buf = io.BytesIO()
    fp.imwrite(buf, frames(), extension=".mp4", fps=25)
    data = buf.getvalue()
    assert b"moof" not in data
    np.testing.assert_array_equal(fp.imread(data).shape, (N, H, W, 3))
    path = tmp_path / "out.mp4"
    with path.open("wb") as fobj:
        fp.imwrite(fobj, frames(), extension=".mp4")
    assert fp.improps(path).n_images == N


def test_write_into_unseekable_file_object_is_fragmented() -> None:
    sink = Unseekable()
    fp.imwrite(sink, frames(), extension=".mp4", fps=25)
    data = b"".join(sink.chunks)
    assert b"moof" in data  # fragmented: playable without seeking back
    assert fp.imread(data).shape == (N, H, W, 3)


def test_procedural_writes_to_file_object() -> None:
    buf = io.BytesIO()
    with fp.open(buf, "w", extension=".mp4") as f:
        for frame in frames():
            f.write(frame, is_batch=False, codec="h264", in_pixel_format="rgb24")
    assert fp.improps(buf.getvalue()).n_images == N


def test_getvalue_of_bytes_writer() -> None:
    f = fp.open("<bytes>", "w", extension=".gif")
    f.write(frames(3))
    with pytest.raises(ValueError, match="close"):
        f.getvalue()
    f.close()
    assert f.getvalue()[:6] == b"GIF89a"


def test_file_object_exception_propagates() -> None:
    class Failing(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        fp.imwrite(Failing(), frames(), extension=".mkv")


def test_not_media_bytes_raise_media_error() -> None:
    with pytest.raises(fp.MediaError):
        fp.imread(b"this is not a video at all, just some text" * 100)
    with pytest.raises(fp.MediaError):
        fp.imread(b"")
    with pytest.raises(fp.MediaError):
        fp.open(io.BytesIO(os.urandom(4096)))


def test_truncated_bytes_in_subprocess(clip: Path) -> None:
    """Half a file must raise or give fewer frames, never crash or hang."""
    code = f"""
import framepipe as fp
from pathlib import Path
data = Path({str(clip)!r}).read_bytes()[:1500]
try:
    fp.imread(data)
except fp.MediaError:
    print("media-error")
else:
    print("read")
"""
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("media-error", "read")


def test_unreadable_file_object_is_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        fp.imread(object())  # type: ignore[arg-type]
    with (tmp_path / "w.bin").open("wb") as wonly, pytest.raises(TypeError, match="not readable"):
        fp.open(wonly)
    with (tmp_path / "w.bin").open("r") as text, pytest.raises(TypeError, match="binary"):
        fp.imread(text)  # type: ignore[arg-type]


def test_unwritable_target_is_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        fp.imwrite(object(), frames(), extension=".mp4")  # type: ignore[arg-type]
    (tmp_path / "r.bin").write_bytes(b"x")
    with (tmp_path / "r.bin").open("rb") as ronly, pytest.raises(TypeError, match="not writable"):
        fp.imwrite(ronly, frames(), extension=".mp4")


def test_bytes_output_needs_extension() -> None:
    with pytest.raises(ValueError, match="extension"):
        fp.imwrite("<bytes>", frames())


def test_yuv444p_frames_with_filter_into_file_object() -> None:
    """Accept imageio's procedural form: planar yuv444p frames, an FFmpeg filter, into a BytesIO."""
    rgb = frames(6)
    buf = io.BytesIO()
    with fp.open(buf, "w", extension=".mp4") as f:
        f.init_video_stream("h264", fps=30)
        f.set_video_filter(filter_sequence=[("scale", {"size": "vga", "flags": "lanczos"})])
        with fp.open(fp.imwrite("<bytes>", rgb, extension=".mkv", codec="png") or b"") as src:
            for frame in src.iter(format="yuv444p"):
                assert frame.shape == (3, H, W)
                f.write_frame(frame, pixel_format="yuv444p")
    back = fp.imread(buf.getvalue())
    assert back.shape == (6, 480, 640, 3)
    small = fp.imread(buf.getvalue(), filter=f"scale={W}:{H}")
    assert np.abs(small.astype(int) - rgb).mean() < 10


def test_bayer_frames_are_demosaiced() -> None:
    """in_pixel_format="bayer_rggb8": (H, W) mosaics, demosaiced by swscale before encoding."""
    mosaic = np.zeros((H, W), np.uint8)
    mosaic[::2, ::2] = 200  # red sites only
    data = fp.imwrite("<bytes>", [mosaic] * 3, extension=".mkv", codec="png", in_pixel_format="bayer_rggb8")
    back = fp.imread(data or b"")
    assert back.shape == (3, H, W, 3)
    red, green, blue = (back[..., c].mean() for c in range(3))
    assert red > 100 and green < 20 and blue < 20
    with pytest.raises(ValueError, match="bayer_xyz8"):
        fp.imwrite("<bytes>", [mosaic], extension=".mkv", in_pixel_format="bayer_xyz8")
