"""Encoding rgb24 arrays to 1080p H.264 MP4: framepipe vs imageio's pyav plugin (libx264, same preset).

Run by ``make bench``. Prints medians and ratios.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import av
import framepipe as fp
import imageio.v3 as iio
from _common import interleaved_medians, table

N = 120
PRESET = "medium"  # the default of both x264enc and libx264
CRASH_SAFE = "--plain" not in sys.argv


def frames() -> np.ndarray:
    """Camera-like content: a lit gradient, moving shapes and mild sensor noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1080, 0:1920]
    base = np.stack([x / 1920 * 200, y / 1080 * 180, (x + y) / 3000 * 160], axis=-1)
    out = np.empty((N, 1080, 1920, 3), np.uint8)
    for k in range(N):
        img = base.copy()
        cx, cy = 200 + 12 * k, 540 + int(200 * np.sin(k / 10))
        img[(x - cx) ** 2 + (y - cy) ** 2 < 120**2] = (240, 60, 40)
        img[300:500, 1500 - 6 * k : 1700 - 6 * k] = (30, 200, 90)
        out[k] = np.clip(img + rng.normal(0, 3, img.shape), 0, 255)
    return out


def yuv420p(data: np.ndarray) -> list[av.VideoFrame]:
    return [av.VideoFrame.from_ndarray(a, format="rgb24").reformat(format="yuv420p") for a in data]


def pyav_encoder_alone(frames: list[av.VideoFrame], out: Path) -> None:
    """libx264 (PyAV's wheel) on frames already in yuv420p, as imageio configures it."""
    with av.open(str(out), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
        for f in frames:
            f.pts = None
            c.mux(s.encode(f))
        c.mux(s.encode())


def x264enc_alone(raw: Path, out: Path) -> None:
    """x264enc (Debian's) on the same frames, read raw, set up as framepipe sets it up."""
    subprocess.run(
        [
            "gst-launch-1.0",
            "-q",
            "filesrc",
            f"location={raw}",
            "blocksize=3110400",
            "!",
            "rawvideoparse",
            "format=i420",
            "width=1920",
            "height=1080",
            "framerate=30/1",
            "!",
            "x264enc",
            "pass=qual",
            "quantizer=23",
            "vbv-buf-capacity=0",
            "!",
            "mp4mux",
            "!",
            "filesink",
            f"location={out}",
        ],
        check=True,
        timeout=600,
    )


def main() -> None:
    data = frames()
    with tempfile.TemporaryDirectory() as d:
        out_fp = Path(d) / "fp.mp4"
        out_io = Path(d) / "io.mp4"
        raw = Path(d) / "i420.raw"
        planar = yuv420p(data)
        with raw.open("wb") as f:
            for frame in planar:
                f.write(frame.to_ndarray().tobytes())

        def write_fp() -> None:
            with fp.open(out_fp, "w", crash_safe=CRASH_SAFE) as f:
                f.init_video_stream("h264", fps=30)
                f.write(data)

        def write_io() -> None:
            with iio.imopen(out_io, "w", plugin="pyav") as f:
                f.init_video_stream("libx264", fps=30)
                f.write(data)

        t = interleaved_medians(
            {
                "fp": write_fp,
                "io": write_io,
                "av-alone": lambda: pyav_encoder_alone(planar, Path(d) / "av.mp4"),
                "x264enc-alone": lambda: x264enc_alone(raw, Path(d) / "gst.mp4"),
            },
            3,
        )
        fp_s, io_s = t["fp"], t["io"]
        assert fp.improps(out_fp).n_images == N
        assert fp.improps(out_io).n_images == N
    table(
        f"Encoding {N} rgb24 1080p frames to H.264 MP4, preset {PRESET}, crash-safe {CRASH_SAFE} (median of 3, runs interleaved)",
        [
            (
                "frames/s (anchor: imageio pyav plugin, libx264)",
                f"{N / io_s:.1f}",
                f"{N / fp_s:.1f}",
                f"{io_s / fp_s:.2f}x (target >= 1.2x)",
            ),
            (
                "for reference: the encoder alone on yuv420p frames, frames/s (PyAV's libx264 vs Debian's x264enc)",
                f"{N / t['av-alone']:.1f}",
                f"{N / t['x264enc-alone']:.1f}",
                f"{t['av-alone'] / t['x264enc-alone']:.2f}x",
            ),
        ],
    )


if __name__ == "__main__":
    main()
