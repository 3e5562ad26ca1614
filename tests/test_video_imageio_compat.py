"""The FFmpeg reader as imageio's pyav plugin users expect it (issue 11, reader side).

Random reads of streams whose decoding depends on the first packet (old x264 builds), the native format,
rgb48/Bayer outputs, layouts of any FFmpeg pixel format, per-frame metadata and the exceptions of bad
input. Every clip is made here with ffmpeg.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest
from framepipe import _framepipe
from framepipe.errors import MediaError

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")

W, H, FPS = 160, 96, 25


def _ffmpeg(*args: str) -> bytes:
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", *args], capture_output=True, timeout=120, check=True)
    return r.stdout


def _rgb(path: Path, *before_input: str, frames: int | None = None) -> np.ndarray:
    """``ffmpeg -pix_fmt rgb24`` of ``path`` as (N, H, W, 3)."""
    limit = ["-frames:v", str(frames)] if frames else []
    raw = _ffmpeg(*before_input, "-i", str(path), *limit, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3)


@pytest.fixture(scope="module")
def old_x264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Make a High 4:4:4 stream that says an old x264 (core 142) wrote it, as imageio's cockatoo.mp4 does.

    Then libavcodec decodes lossless intra 8x8 blocks the way x264 before core 151 predicted them, but
    only a decoder that saw the version SEI in the first packet knows. The stream is made by today's x264
    and its SEI edited (same length).
    """
    d = tmp_path_factory.mktemp("oldx264")
    src = d / "new.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-frames:v", "60",
        "-c:v", "libx264", "-pix_fmt", "yuv444p", "-qp", "0", "-bf", "2",
        "-x264-params", "keyint=20:min-keyint=20:scenecut=0:8x8dct=1:cabac=0:partitions=i8x8",
        str(src),
    )  # fmt: skip
    data = src.read_bytes()
    start = data.index(b"x264 - core ") + len(b"x264 - core ")
    end = start + 3
    assert data[start:end].isdigit() and int(data[start:end]) >= 151
    out = d / "old.mp4"
    out.write_bytes(data[:start] + b"142" + data[end:])
    return out


@pytest.mark.slow
def test_old_x264_stream_reproduces_the_seek_damage(old_x264: Path) -> None:
    # The clip is what the test needs: FFmpeg's own seek (without the version) decodes the
    # second GOP differently from sequential decoding; told the version, it agrees.
    seq = _rgb(old_x264)
    assert len(seq) == 60
    sought = _rgb(old_x264, "-ss", "0.8", frames=1)[0]
    assert not np.array_equal(sought, seq[20])
    told = _rgb(old_x264, "-x264_build", "142", "-ss", "0.8", frames=1)[0]
    np.testing.assert_array_equal(told, seq[20])


@pytest.mark.slow
def test_random_reads_equal_iteration_on_an_old_x264_stream(old_x264: Path) -> None:
    with fp.open(old_x264) as f:
        seq = np.stack([np.array(a) for a in f.iter()])
    np.testing.assert_array_equal(seq, _rgb(old_x264))  # iteration is FFmpeg's decode
    for k in range(len(seq)):
        with fp.open(old_x264) as f:  # a fresh decoder for every read
            np.testing.assert_array_equal(f.read(index=k), seq[k], err_msg=f"frame {k}")
    ks = [59, 25, 40, 20, 3, 45]
    np.testing.assert_array_equal(fp.imread(old_x264, index=ks), seq[ks])  # batches, parallel decoders
    with fp.open(old_x264) as f:
        np.testing.assert_array_equal(f.read(index=41), seq[41])
        np.testing.assert_array_equal(f.read(index=21), seq[21])  # backwards: a seek
        saved = old_x264.with_suffix(".index.json")
        f.save_index(saved)
    with fp.open(old_x264, frame_index=saved) as f:  # no scan: the version is read all the same
        np.testing.assert_array_equal(f.read(index=45), seq[45])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fmt")
    out = {}
    for name, pix in [("yuv444p", "yuv444p"), ("yuv420p", "yuv420p")]:
        p = d / f"{name}.mp4"
        _ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-frames:v", "12",
            "-c:v", "libx264", "-pix_fmt", pix, "-g", "6", "-bf", "2", str(p),
        )  # fmt: skip
        out[name] = p
    return out


def test_native_format_is_read_by_ffmpeg_when_it_is_one_array(clips: dict[str, Path]) -> None:
    with fp.open(clips["yuv444p"], format=None) as f:
        frame = f.read(index=5, format=None)
        assert frame.shape == (3, H, W) and frame.dtype == np.uint8
        assert f._reader(None).backend == "libav"
        np.testing.assert_array_equal(frame, f.read(index=5, format="yuv444p"))
    raw = _ffmpeg("-i", str(clips["yuv444p"]), "-f", "rawvideo", "-pix_fmt", "yuv444p", "-")
    planes = np.frombuffer(raw, np.uint8).reshape(-1, 3, H, W)
    np.testing.assert_array_equal(frame, planes[5])


def test_rgb48_aliases_and_byte_orders(clips: dict[str, Path]) -> None:
    path = clips["yuv420p"]
    le = fp.imread(path, index=3, format="rgb48le")
    alias = fp.imread(path, index=3, format="rgb48")
    be = fp.imread(path, index=3, format="rgb48be")
    assert le.dtype == np.dtype("<u2") and be.dtype == np.dtype(">u2") and alias.dtype == le.dtype
    assert le.shape == be.shape == (H, W, 3)
    np.testing.assert_array_equal(le, alias)
    np.testing.assert_array_equal(le, be)  # same values, big-endian bytes
    assert be.tobytes() == le.byteswap().tobytes()
    assert fp.improps(path, format="rgb48be").dtype == np.dtype(">u2")
    batch = fp.imread(path, index=[3, 1], format="rgb48be")
    assert batch.dtype == np.dtype(">u2")
    np.testing.assert_array_equal(batch[0], be)


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_outputs_keep_the_colour_each_filter_passes(clips: dict[str, Path], pattern: str) -> None:
    path = clips["yuv420p"]
    rgb = fp.imread(path, index=4)
    mosaic = fp.imread(path, index=4, format=f"bayer_{pattern}8")
    assert mosaic.shape == (H, W) and mosaic.dtype == np.uint8
    channel = {"r": 0, "g": 1, "b": 2}
    for dy in (0, 1):
        for dx in (0, 1):
            c = channel[pattern[2 * dy + dx]]
            np.testing.assert_array_equal(mosaic[dy::2, dx::2], rgb[dy::2, dx::2, c])
    deep = fp.imread(path, index=4, format=f"bayer_{pattern}16be")
    assert deep.dtype == np.dtype(">u2") and deep.shape == (H, W)
    frames = list(fp.imiter(path, format=f"bayer_{pattern}8"))
    assert len(frames) == 12 and frames[4].shape == (H, W)
    np.testing.assert_array_equal(frames[4], mosaic)
    assert fp.improps(path, format=f"bayer_{pattern}8").shape == (12, H, W)


def test_unknown_output_format_is_a_value_error(clips: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="bayer_xyzw8"):
        fp.imread(clips["yuv420p"], index=0, format="bayer_xyzw8")
    with pytest.raises(ValueError, match="yuv420x"):
        fp.imread(clips["yuv420p"], index=0, format="yuv420x")


def test_pixel_format_layouts_follow_imageio() -> None:
    assert _framepipe.pixel_format_layout("yuv444p", 64, 48) == ([3, 48, 64], "uint8")
    assert _framepipe.pixel_format_layout("rgb24", 64, 48) == ([48, 64, 3], "uint8")
    assert _framepipe.pixel_format_layout("rgb48", 64, 48) == ([48, 64, 3], "<u2")
    assert _framepipe.pixel_format_layout("rgb48be", 64, 48) == ([48, 64, 3], ">u2")
    assert _framepipe.pixel_format_layout("gray16be", 64, 48) == ([48, 64], ">u2")
    for not_strided in ("yuv420p", "nv12", "nv24", "yuv420p10le", "rgb565le"):
        assert _framepipe.pixel_format_layout(not_strided, 64, 48) is None, not_strided
    with pytest.raises(ValueError, match="nonsense"):
        _framepipe.pixel_format_layout("nonsense", 64, 48)


def test_frame_info_is_the_decoders_view(clips: dict[str, Path]) -> None:
    path = clips["yuv420p"]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pict_type,key_frame",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    with fp.open(path) as f:
        infos = [f.frame_info(k) for k in range(12)]
        assert [i["frame_type"] for i in infos] == [line.split(",")[1] for line in probe]
        assert [int(i["key_frame"]) for i in infos] == [int(line.split(",")[0]) for line in probe]
        assert infos[6]["frame_type"] == "I" and infos[6]["key_frame"] is True
        assert infos[6]["interlaced_frame"] is False and infos[4]["key_frame"] is False
        # metadata(index) stays an index lookup (nothing decoded), with the container's flag.
        m = f.metadata(index=6)
        assert m["key_frame"] is True and m["time"] == pytest.approx(6 / FPS) and "frame_type" not in m
        with pytest.raises(IndexError):
            f.frame_info(12)
        glob = f.metadata()
        assert glob["codec"] == "h264" and glob["profile"] == "High" and glob["fps"] == FPS
        # The stream's tags win over the container's, as in imageio's pyav plugin.
        assert glob["container_tags"]["encoder"].startswith("Lavf")
        assert glob["encoder"] == glob["stream_tags"].get("encoder", glob["container_tags"]["encoder"])
        assert glob["duration"] == pytest.approx(12 / FPS)


def test_bad_input_raises_the_documented_types(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"nonsense" * 100)
    with pytest.raises(MediaError):
        fp.open(junk)
    with pytest.raises(FileNotFoundError):
        fp.open(tmp_path / "missing.mp4")


# -- through imageio's v3 API (plugin="framepipe") ---------------------------------------------


def test_imageio_properties_raise_oserror_for_formats_that_are_not_one_array(clips: dict[str, Path]) -> None:
    iio = pytest.importorskip("imageio.v3")
    with iio.imopen(clips["yuv444p"], "r", plugin="framepipe") as f:
        for name in ("yuv420p", "nv24", "yuv420p10le"):
            with pytest.raises(OSError, match=name):
                f.properties(format=name)
        with pytest.raises(ValueError, match="nonsense"):
            f.properties(format="nonsense")
        p = f.properties(index=4, format="rgb48")
        assert (p.shape, p.dtype, p.n_images, p.is_batch) == ((H, W, 3), np.dtype("<u2"), None, False)
        p = f.properties(format=None)  # the stream's yuv444p
        assert (p.shape, p.dtype, p.n_images, p.is_batch) == ((12, 3, H, W), np.uint8, 12, True)
        assert f.read(index=5, format=None).shape == (3, H, W)
    with iio.imopen(clips["yuv420p"], "r", plugin="framepipe") as f:
        with pytest.raises(OSError, match="yuv420p"):
            f.read(index=0, format=None)
        with pytest.raises(OSError, match="yuv420p"):
            next(iter(f.iter(format=None)))


def test_imageio_per_frame_metadata(clips: dict[str, Path]) -> None:
    iio = pytest.importorskip("imageio.v3")
    with iio.imopen(clips["yuv420p"], "r", plugin="framepipe") as f:
        m = f.metadata(index=6)
        assert m["frame_type"] == "I" and m["key_frame"] is True and m["interlaced_frame"] is False
        assert m["time"] == pytest.approx(6 / FPS)
        assert f.metadata(index=4)["key_frame"] is False
        g = f.metadata()
        assert g["profile"] == "High" and g["codec"] == "h264" and g["video_format"] == "yuv420p"


def test_imageio_writes_bayer_frames_demosaiced_by_swscale(tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    mosaic = np.zeros((64, 64), np.uint8)
    mosaic[0::2, 0::2] = 220  # the red sites of RGGB only: a red picture
    out = tmp_path / "bayer.mp4"
    with iio.imopen(out, "w", plugin="framepipe") as f:
        f.init_video_stream("h264", fps=10, pixel_format="yuv444p")
        for _ in range(5):
            f.write_frame(mosaic, pixel_format="bayer_rggb8")
    frames = iio.imread(out, plugin="framepipe")
    assert frames.shape == (5, 64, 64, 3)
    r, g, b = (frames[..., c].astype(float).mean() for c in range(3))
    assert r > 150 and g < 60 and b < 60, (r, g, b)
    with pytest.raises(ValueError, match="bayer_abcd8"):
        iio.imwrite(
            tmp_path / "x.mp4", mosaic, plugin="framepipe", is_batch=False, in_pixel_format="bayer_abcd8"
        )


def test_imageio_exception_types(tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    with pytest.raises(OSError):
        iio.imopen(b"nonsense", "r", plugin="framepipe", legacy_mode=False)
    junk = tmp_path / "faulty.mp4"
    junk.write_bytes(b"nonsense")
    with pytest.raises(OSError):
        iio.imopen(junk, "r", plugin="framepipe", legacy_mode=False)
    with pytest.raises(OSError):
        iio.imwrite(tmp_path / "foo.abc", np.zeros((16, 16, 3), np.uint8), plugin="framepipe")
