"""FFmpeg filters through libavfilter (the fpavfilter element): frame counts, sizes and pixels against the ffmpeg CLI on the same clip, imageio's filter_sequence / filter_graph forms, filters on write, bad filter strings, fpavfilter in a plain pipeline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest
from framepipe.errors import ParseError, PipelineError

W, H, FPS, SECONDS = 160, 120, 25, 2

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a 2 s, 25 fps, 160x120 H.264 clip made by ffmpeg's testsrc (moving content)."""
    path = tmp_path_factory.mktemp("avfilter") / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={W}x{H}:rate={FPS}",
            "-t",
            str(SECONDS),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-bf",
            "0",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def ffmpeg_frames(path: Path, graph: str, shape: tuple[int, int]) -> np.ndarray:
    """Return what ``ffmpeg -i path -vf graph -pix_fmt rgb24`` gives, as (N, H, W, 3)."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-vf",
            graph,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    h, w = shape
    assert len(out) % (h * w * 3) == 0, f"{graph}: {len(out)} bytes is not a whole number of {w}x{h} frames"
    return np.frombuffer(out, np.uint8).reshape(-1, h, w, 3)


GRAPHS = {
    "drawgrid": ("drawgrid=w=16:h=16:t=2:c=white", (H, W)),
    "framestep": ("framestep=3", (H, W)),
    "trim": ("trim=start_frame=5:end_frame=20", (H, W)),
    "scale_expr": ("scale=w=trunc(iw*2/3/2)*2:h=-2", (80, 106)),
    "fps": ("fps=10", (H, W)),
    "split_overlay": ("split[a][b];[b]scale=64:-1[c];[a][c]overlay=x=8:y=W-w-8", (H, W)),
    "tpad": ("tpad=stop=4:stop_mode=clone", (H, W)),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_counts_sizes_and_pixels_match_ffmpeg(clip: Path, name: str) -> None:
    graph, shape = GRAPHS[name]
    expected = ffmpeg_frames(clip, graph, shape)
    got = fp.imread(clip, filter=graph)
    assert got.shape == expected.shape, name
    # Same frames, not just as many: converted to rgb24 inside the graph, by libswscale as
    # the ffmpeg CLI does, they are FFmpeg's to the bit.
    exact = fp.imread(clip, filter=graph + ",format=rgb24")
    assert np.array_equal(exact, expected), name


def test_frame_count_changes_are_not_indexed(clip: Path) -> None:
    with fp.open(clip) as f:
        frames = f.read(filter="framestep=5")
        assert len(frames) == 10
        # The 3rd output frame is source frame 10.
        third = f.read(index=2, filter="framestep=5")
        assert np.array_equal(third, frames[2])


def test_one_to_one_filters_keep_random_access(clip: Path) -> None:
    plain = fp.imread(clip)
    for k in (0, 17, 49):
        got = fp.imread(clip, index=k, filter="drawgrid=w=16:h=16,hflip")
        assert got.shape == (H, W, 3)
        # hflip mirrors: away from the grid lines the frame is the mirrored source.
        assert np.abs(got[:, ::-1][5:15, 2:14].astype(int) - plain[k][5:15, 2:14]).mean() < 2


def test_filter_sequence_like_imageio(clip: Path) -> None:
    seq = [
        ("scale", "80:-1"),
        ("drawgrid", {"w": "8", "h": "8", "c": "red@0.5"}),
        ("framestep", "2"),
        ("format", "rgb24"),
    ]
    with fp.open(clip) as f:
        got = f.read(filter_sequence=seq)
    expected = ffmpeg_frames(clip, "scale=80:-1,drawgrid=w=8:h=8:c=red@0.5,framestep=2", (60, 80))
    assert np.array_equal(got, expected)


PIP = (
    {
        "split": ("split", ""),
        "scale_overlay": ("scale", "64:-1"),
        "overlay": ("overlay", "x=25:y=25:enable='between(t,1,8)'"),
    },
    [
        ("video_in", "split", 0, 0),
        ("split", "overlay", 0, 0),
        ("split", "scale_overlay", 1, 0),
        ("scale_overlay", "overlay", 0, 1),
        ("overlay", "video_out", 0, 0),
    ],
)


def test_filter_graph_like_imageio(clip: Path) -> None:
    with fp.open(clip) as f:
        got = f.read(filter_graph=PIP)
    expected = ffmpeg_frames(
        clip, "split[a][b];[b]scale=64:-1[c];[a][c]overlay=x=25:y=25:enable='between(t,1,8)'", (H, W)
    )
    assert got.shape == expected.shape == (50, H, W, 3)
    assert np.abs(got.astype(int) - expected).mean() < 2
    # Before t=1 s there is no picture-in-picture, after it there is.
    plain = fp.imread(clip)
    assert np.abs(got[10].astype(int) - plain[10]).mean() < 1
    assert np.abs(got[30].astype(int) - plain[30]).mean() > 5


def test_sequence_then_graph_like_pyav(clip: Path) -> None:
    with fp.open(clip) as f:
        got = f.read(filter_sequence=[("framestep", "5"), ("scale", "96:72")], filter_graph=PIP)
    assert got.shape == (10, 72, 96, 3)


def test_gstreamer_fragments_still_work(clip: Path) -> None:
    got = fp.imread(
        clip, index=2, filter="videoflip video-direction=90r ! videoscale ! video/x-raw,width=60,height=80"
    )
    assert got.shape == (80, 60, 3)
    assert fp.imread(clip, index=2, filter=[("videobalance", {"saturation": "0"}), ("hflip", "")]).shape == (
        H,
        W,
        3,
    )


@pytest.mark.parametrize(
    ("graph", "filter_name"),
    [
        ("scale=32:32,nosuchfilter=3", "nosuchfilter"),
        ("scale=nosuchoption=1", "scale"),
        ("drawgrid=w=16:c=notacolour", "drawgrid"),
    ],
)
def test_bad_filter_string_raises_parse_error(clip: Path, graph: str, filter_name: str) -> None:
    with pytest.raises(ParseError) as info:
        fp.imread(clip, filter=graph)
    assert filter_name in str(info.value)
    assert info.value.token == filter_name


def test_bad_filter_in_sequence_raises_parse_error(clip: Path) -> None:
    with pytest.raises(ParseError, match="nosuchoption"):
        fp.imread(clip, filter=[("scale", {"nosuchoption": "1"})])


def test_fpavfilter_in_a_pipeline() -> None:
    p = fp.Pipeline(
        "videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 "
        '! fpavfilter graph="framestep=3,scale=iw/2:-1" ! video/x-raw,format=RGB ! appsink name=out'
    )
    frames = list(p.frames("out", timeout=30))
    assert len(frames) == 10
    # The graph converts to the format downstream asks for.
    assert frames[0].array.shape == (24, 32, 3)
    # Timestamps are the kept frames' (every third frame of 30 fps: 100 ms apart).
    pts = [f.pts for f in frames]
    assert pts[1] - pts[0] == 100_000_000


def test_fpavfilter_bad_graph_in_a_pipeline() -> None:
    p = fp.Pipeline("videotestsrc num-buffers=3 ! fpavfilter graph=nosuchfilter ! fakesink")
    with pytest.raises(PipelineError, match="nosuchfilter"):
        p.run(timeout=30)


def test_write_with_filter(tmp_path: Path) -> None:
    frames = np.zeros((12, H, W, 3), np.uint8)
    frames[:, :, : W // 2] = 200
    out = tmp_path / "filtered.mp4"
    fp.imwrite(out, frames, fps=12, filter="scale=iw/2:-2,hflip")
    back = fp.imread(out)
    assert back.shape == (12, H // 2, W // 2, 3)
    # hflip on write: the bright half is now on the right.
    assert back[5, :, -10:].mean() > 150 and back[5, :, :10].mean() < 50

    fewer = tmp_path / "framestep.mp4"
    with fp.open(fewer, "w") as f:
        f.init_video_stream("h264", fps=12)
        f.set_video_filter(filter_sequence=[("framestep", "3")])
        for frame in frames:
            f.write_frame(frame)
    assert fp.imread(fewer).shape == (4, H, W, 3)


def test_imageio_filters_and_plugin_errors(clip: Path, tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    frames = iio.imread(
        clip, plugin="framepipe", filter_sequence=[("framestep", "5"), ("scale", {"size": "qqvga"})]
    )
    assert frames.shape == (10, 120, 160, 3)
    # What imageio's plugin selection expects: InitializationError, which imageio turns
    # into OSError for an explicit plugin (or tries the next plugin).
    bad = tmp_path / "faulty.mp4"
    bad.write_bytes(b"nonsense")
    with pytest.raises(OSError):
        iio.imopen(bad, "r", plugin="framepipe")
    with pytest.raises(OSError):
        iio.imopen(b"nonsense", "r", plugin="framepipe")
    with pytest.raises(OSError):
        iio.imwrite(tmp_path / "foo.abc", np.zeros((2, 16, 16, 3), np.uint8), plugin="framepipe")


def test_imageio_profile_is_ffmpegs(clip: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    probe = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v",
        "-show_entries",
        "stream=profile",
        "-of",
        "csv=p=0",
    ]
    expected = subprocess.run(
        [*probe, str(clip)], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    assert iio.immeta(clip, plugin="framepipe")["profile"] == expected.strip()
