"""GIF and PNG through the libav writer.

Round trips (frame count, size, timing, pixels within the palette's tolerance), gray GIF exact, PNG
lossless, image sequences, APNG, and the options that cannot be honoured (ValueError naming them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest

from .conftest import ffprobe_stream

H, W, N = 48, 64, 10


def colour_frames(n: int = N) -> np.ndarray:
    """Frames of a few flat colours (a palette holds them exactly) with a moving bar."""
    frames = np.zeros((n, H, W, 3), np.uint8)
    for k in range(n):
        frames[k, :, :] = (40, 80, 200)
        frames[k, : H // 2, :] = (220, 60, 30)
        frames[k, :, 4 * k : 4 * k + 6] = (250, 250, 250)
    return frames


def gray_frames(n: int = N) -> np.ndarray:
    frames = np.zeros((n, H, W), np.uint8)
    for k in range(n):
        frames[k] = (np.arange(W)[None, :] * 3 + k * 7) % 256
    return frames


def test_gif_colour_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    frames = colour_frames()
    fp.imwrite(path, frames, fps=20)
    assert ffprobe_stream(path) == {"codec_name": "gif", "pix_fmt": "bgra", "nb_read_frames": str(N)}
    back = fp.imread(path)
    assert back.shape == (N, H, W, 3)
    # Few colours: the palette holds them all, so the frames come back (nearly) exact.
    assert np.abs(back.astype(int) - frames).mean() < 1.0
    meta = fp.immeta(path)
    assert meta["n_frames"] == N
    assert meta["fps"] == pytest.approx(20, rel=0.01)


def test_gif_palette_tolerance_on_gradients(tmp_path: Path) -> None:
    """A smooth image with more colours than a palette holds: within palette tolerance."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    frames = np.stack([np.roll(img, k, axis=1) for k in range(4)])
    path = tmp_path / "g.gif"
    fp.imwrite(path, frames, fps=10)
    back = fp.imread(path)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).mean() < 6


def test_gif_gray_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "gray.gif"
    frames = gray_frames()
    fp.imwrite(path, list(frames), codec="gif", pixel_format="gray", in_pixel_format="gray")
    back = fp.imread(path, format="gray")
    assert back.shape == frames.shape
    np.testing.assert_array_equal(back, frames)


def test_gif_loop_and_duration(tmp_path: Path) -> None:
    once = tmp_path / "once.gif"
    fp.imwrite(once, colour_frames(3), duration=50, loop=-1)
    forever = tmp_path / "forever.gif"
    fp.imwrite(forever, colour_frames(3), duration=50)
    # NETSCAPE2.0 is the looping extension: absent when the GIF plays once.
    assert b"NETSCAPE2.0" not in once.read_bytes()
    assert b"NETSCAPE2.0" in forever.read_bytes()
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=duration_time", "-of", "csv=p=0", str(forever)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    durations = [float(d) for d in r.stdout.split()]
    assert durations[:2] == [0.05, 0.05]


def test_gif_with_ffmpeg_palette_graph(tmp_path: Path) -> None:
    """Accept imageio's pyav form: the caller's own split/palettegen/paletteuse graph."""
    graph = (
        {"split": ("split", ""), "palettegen": ("palettegen", ""), "paletteuse": ("paletteuse", "")},
        [
            ("video_in", "split", 0, 0),
            ("split", "palettegen", 0, 0),
            ("split", "paletteuse", 1, 0),
            ("palettegen", "paletteuse", 0, 1),
            ("paletteuse", "video_out", 0, 0),
        ],
    )
    path = tmp_path / "graph.gif"
    with fp.open(path, "w") as f:
        f.write(colour_frames(), codec="gif", fps=50, out_pixel_format="pal8", filter_graph=graph)
    assert fp.improps(path).shape == (N, H, W, 3)


def test_gif_filter_before_palette(tmp_path: Path) -> None:
    path = tmp_path / "small.gif"
    fp.imwrite(path, colour_frames(), filter="scale=32:-1")
    assert fp.improps(path).shape == (N, 24, 32, 3)


def test_png_single_image_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (H, W, 3), np.uint8)
    path = tmp_path / "one.png"
    fp.imwrite(path, img[None])
    assert ffprobe_stream(path, "codec_name,pix_fmt") == {"codec_name": "png", "pix_fmt": "rgb24"}
    np.testing.assert_array_equal(fp.imread(path, index=0), img)


def test_png_rgba_and_gray16(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (H, W, 4), np.uint8)
    fp.imwrite(tmp_path / "a.png", [rgba], in_pixel_format="rgba")
    np.testing.assert_array_equal(fp.imread(tmp_path / "a.png", index=0, format="rgba"), rgba)
    g16 = rng.integers(0, 65536, (H, W), np.uint16)
    fp.imwrite(tmp_path / "g.png", [g16])
    assert ffprobe_stream(tmp_path / "g.png", "pix_fmt") == {"pix_fmt": "gray16be"}
    np.testing.assert_array_equal(fp.imread(tmp_path / "g.png", index=0, format="gray16le"), g16)


def test_png_image_sequence(tmp_path: Path) -> None:
    frames = colour_frames(5)
    fp.imwrite(tmp_path / "frame_%03d.png", frames)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"frame_{k:03d}.png" for k in range(1, 6)]
    for k in range(5):
        np.testing.assert_array_equal(fp.imread(tmp_path / f"frame_{k + 1:03d}.png", index=0), frames[k])


def test_png_frames_in_a_container(tmp_path: Path) -> None:
    """codec="png" inside MKV (lossless video)."""
    frames = colour_frames(6)
    path = tmp_path / "png.mkv"
    fp.imwrite(path, frames, codec="png")
    assert ffprobe_stream(path) == {"codec_name": "png", "pix_fmt": "rgb24", "nb_read_frames": "6"}
    np.testing.assert_array_equal(fp.imread(path), frames)


def test_apng_round_trip(tmp_path: Path) -> None:
    frames = colour_frames(4)
    path = tmp_path / "a.apng"
    fp.imwrite(path, frames, fps=10)
    assert ffprobe_stream(path) == {"codec_name": "apng", "pix_fmt": "rgb24", "nb_read_frames": "4"}
    np.testing.assert_array_equal(fp.imread(path), frames)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"pixel_format": "yuv420p"}, "pixel_format"),
        ({"loop": -2}, "loop"),
        ({"loop": 70000}, "loop"),
        ({"fps": 200}, "fps"),
        ({"fps": 10, "duration": 100}, "duration"),
        ({"duration": 0}, "duration"),
        ({"codec": "h264"}, "codec"),
    ],
)
def test_gif_impossible_options(tmp_path: Path, kwargs: dict[str, object], named: str) -> None:
    path = tmp_path / "bad.gif"
    with pytest.raises(ValueError, match=named):
        fp.imwrite(path, colour_frames(2), **kwargs)  # type: ignore[arg-type]
    assert not path.exists()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"pixel_format": "yuv420p"}, "pixel_format"),
        ({"loop": 0}, "loop"),
        ({"codec": "gif"}, "codec"),
    ],
)
def test_png_impossible_options(tmp_path: Path, kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        fp.imwrite(tmp_path / "bad.png", colour_frames(1), **kwargs)  # type: ignore[arg-type]


def test_png_second_frame_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.png"
    with pytest.raises(ValueError, match="one image"):
        fp.imwrite(path, colour_frames(2))
    assert not path.exists()


def test_gif_shape_change_is_refused(tmp_path: Path) -> None:
    frames = [np.ones((20, 30), np.uint8), np.ones((32, 32), np.uint8)]
    with pytest.raises(ValueError, match="frame 1"):
        fp.imwrite(tmp_path / "x.gif", frames, in_pixel_format="gray")


def test_gif_unparsable_filter_is_parse_error(tmp_path: Path) -> None:
    with pytest.raises(fp.ParseError) as info:
        fp.imwrite(tmp_path / "x.gif", colour_frames(2), filter=[("scale", "32:-1"), ("nosuchfilter", "3")])
    assert info.value.token == "nosuchfilter"
